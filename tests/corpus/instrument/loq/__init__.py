"""The LOQ-like instrument package (idiom: InstrumentScripts instrument/loq/__init__.py).

A wildcard import of the SANS and scan modules, and the detector factory re-exported by
name, because users pass it to scans: `ascan(..., detector=specific_spectra([[4]]))`.
"""

from scanlib.detector import specific_spectra  # noqa: F401

from .sans import *  # noqa: F401, F403
from .scans import *  # noqa: F401, F403
