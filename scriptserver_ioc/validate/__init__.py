"""validate layer of scriptserver_ioc."""
