"""The SANS2D-like instrument package (idiom: InstrumentScripts instrument/sans2d/__init__.py).

Its module is slow to import where the instrument's PVs are not served (below).
"""

from .sans import *  # noqa: F401, F403
