"""catalogue layer of scriptserver_ioc."""
