"""Scans of the instrument (idiom: instrument/larmor/scans.py).

Scan commands are aliases made by a wrapper of an instrument object; get_user_dir runs at
import (set-up code, not a command); generic_pol is a factory of detectors.
"""

from scanlib.util import local_wrapper

from .util import flipper1


class Scanner:
    """Scanning defaults of the instrument."""

    def scan(self, motion: str, start: float = 0.0, stop: float = 1.0, count: int = 5):
        """Scan a block from start to stop.

        Args:
            motion: the block to scan.
            start: first position.
            stop: last position.
            count: number of points.
        """
        print("scan", motion, start, stop, count)

    def last_scan(self):
        """Show the last scan."""
        print("last scan")


def get_user_dir():
    """Move to the current user directory (runs at import)."""
    return None


get_user_dir()


def generic_pol(spectra, preconfig=lambda: None):
    """Create a polarised detector object over a list of spectra."""

    def inner_pol(**kwargs):
        flipper1(1)
        return len(spectra)

    return inner_pol


_lm = Scanner()
scan = local_wrapper(_lm, "scan")
last_scan = local_wrapper(_lm, "last_scan")
