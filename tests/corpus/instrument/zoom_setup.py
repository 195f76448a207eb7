"""An instrument's start-up file: everything of the nested instrument folder.

Idiom: what scientists type at the start of an experiment, `from instrument.zoom import *`
(InstrumentScripts instrument/zoom/__init__.py's docstring).
"""

from instruments.zoom import *  # noqa: F401, F403
