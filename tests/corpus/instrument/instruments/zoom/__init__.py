"""The ZOOM-like instrument (idiom: InstrumentScripts instrument/zoom/__init__.py)."""

from instruments.zoom.sans import *  # noqa: F401, F403
