"""catalogue layer of scriptserver_ioc."""

from scriptserver_ioc.catalogue.binding import BindError
from scriptserver_ioc.catalogue.catalogue import Catalogue
from scriptserver_ioc.catalogue.model import Command, Param
from scriptserver_ioc.catalogue.watcher import CatalogueWatcher

__all__ = ["BindError", "Catalogue", "CatalogueWatcher", "Command", "Param"]
