"""Scans of the LOQ-like instrument (idiom: instrument/loq/scans.py).

It imports `setup_dae_transmission` by name from sans.py to build its default detector, so
the package's star import of this module brings that name too: it is still the command of
sans.py, not a helper.
"""

from scanlib.detector import specific_spectra
from scanlib.util import local_wrapper

from .sans import setup_dae_transmission  # noqa: F401 - made in sans.py's loop


class LoqScans:
    """Scanning defaults of the instrument: the monitor-4 detector."""

    detector = specific_spectra([[4]], setup_dae_transmission)

    def ascan(self, motion: str, start: float, stop: float, count: int = 10):
        """Scan a block between absolute positions."""
        print("ascan", motion, start, stop, count)

    def dscan(self, motion: str, before: float, after: float, count: int = 10):
        """Scan a block relative to where it is."""
        print("dscan", motion, before, after, count)


_loq = LoqScans()
ascan = local_wrapper(_loq, "ascan")
dscan = local_wrapper(_loq, "dscan")
