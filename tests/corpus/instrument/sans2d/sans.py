"""SANS of an instrument whose set-up reads PVs at import (idiom: instrument/sans2d/sans.py).

The instrument object is made at module level, and making it reads the sample changer's
positions and the DAE tables through genie_python (technique/sans/instrument.py,
`ScanningInstrument.__init__`). Where nobody serves those PVs, each read waits for genie's
connection time-out (3 s) and the defaults are used: importing this module takes about 15 s
in a job. With `GENIE_SIMULATE=1` the reads return at once.
"""

from genie_python import genie as g
from scanlib.util import local_wrapper

STARTUP_PVS = (
    "LKUP:SAMPLE:POSITIONS",
    "DAE:DETECTOR_FILE",
    "DAE:SPECTRA_FILE",
    "DAE:WIRING_FILE",
    "PARS:SAMPLE:MEAS:TYPE",
)


def _read_setting(name):
    """A PV of the instrument, None if it cannot be read (a job raises genie's errors)."""
    try:
        return g.get_pv(name, is_local=True)
    except Exception:  # noqa: BLE001 - not served here: the instrument's defaults apply
        return None


class Sans2d:
    """The instrument: its set-up is read from the PVs when it is made."""

    def __init__(self):
        self._settings = {name: _read_setting(name) for name in STARTUP_PVS}
        positions = self._settings["LKUP:SAMPLE:POSITIONS"]
        self._positions = positions.split() if positions else ["1CB", "2CB", "3CB"]

    def set_sample_position(self, position: str = "1CB"):
        """Move the sample changer to a named position."""
        print("sample position", position, "of", self._positions)


obj = Sans2d()
for method in dir(obj):
    if not method.startswith("_") and callable(getattr(obj, method)):
        locals()[method] = local_wrapper(obj, method)
