"""The LARMOR-like instrument package (idiom: InstrumentScripts instrument/larmor/__init__.py).

A wildcard import pulls in the instrument's commands; flipper1 is re-exported by name.
"""

from .sans import *  # noqa: F401, F403
from .scans import *  # noqa: F401, F403
from .util import flipper1  # noqa: F401
