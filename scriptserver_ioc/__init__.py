"""scriptserver_ioc: the EPICS-native script server for ISIS instruments."""

__version__ = "0.1.0"
