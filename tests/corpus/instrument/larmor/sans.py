"""SANS measurements of the instrument (idiom: instrument/larmor/sans.py).

The commands are the public methods of one instrument object, published as module names
by a loop through locals() (sans.py's last lines), plus a local `sleep`: the class uses it,
and it is also the `sleep` users get from `from larmor import *`.
"""

from scanlib.util import dae_setter, local_wrapper


def sleep(seconds):
    """Override the sleep function to use the instrument's wait.

    Simulated runs then wait for real sleeps too.
    """
    print("waiting", seconds)


class Larmor:
    """The SANS instrument."""

    _lrange = "0.9-13.25"

    def method_iterator(self):
        """The public methods of the instrument (technique/sans/instrument.py's idiom)."""
        for name in dir(self):
            if not name.startswith("_") and name != "method_iterator":
                if callable(getattr(self, name)):
                    yield name

    def set_lrange(self, lrange: str = "0.9-13.25"):
        """Set the current wavelength range."""
        self._lrange = lrange

    @dae_setter("SANS")
    def setup_dae_scanning12(self):
        """Set the wiring tables for a scan where the entire main
        detector is contained in only two channels."""

    def measure(self, title: str, uamps: float = 0.0, thickness: float = 1.0):
        """Measure a sample.

        Args:
            title: the run title.
            uamps: how long to count, in microamp hours.
            thickness: sample thickness in mm.
        """
        sleep(0)
        print("measure", title, uamps, thickness)


obj = Larmor()
for method in obj.method_iterator():
    locals()[method] = local_wrapper(obj, method)
