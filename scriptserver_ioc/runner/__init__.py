"""runner layer of scriptserver_ioc."""
