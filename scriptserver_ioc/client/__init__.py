"""client layer of scriptserver_ioc."""
