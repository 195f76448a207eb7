"""store layer of scriptserver_ioc."""
