"""The companion checker's operations, shared by both ends (standard library only, 3.8+).

The IOC (`validate/companions.py`, `validate/batch.py`, `catalogue/live.py`) sends JSON-line
requests ``{"id", "op", ...}`` to the checker process (`job/checker.py`), which answers
each with ``{"id", "ok", ...}``; the request and answer fields of each operation are in
`job/checker.py`'s docstring. The server imports this module as
``scriptserver_ioc.job._checker_protocol``, the checker as ``_checker_protocol``.
"""

CHECK = "check"  # run one command's validate_/estimate_ (or DoRun checks) on arguments
CHECK_MANY = "check_many"  # the same for a batch, one answer for all
LOAD = "load"  # import a command's module (slow imports have a longer limit)
MODULE_NAMES = "module_names"  # what ``from pkg.mod import *`` would bind
ATTRIBUTES = "attributes"  # every attribute of a module (``dir``): known ``g.<name>``
DESCRIBE = "describe"  # import command modules, describe names from their live objects
PING = "ping"  # is the checker alive

OPERATIONS = (CHECK, CHECK_MANY, LOAD, MODULE_NAMES, ATTRIBUTES, DESCRIBE, PING)
