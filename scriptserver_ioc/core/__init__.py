"""core layer of scriptserver_ioc."""
