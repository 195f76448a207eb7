"""ioc layer of scriptserver_ioc."""
