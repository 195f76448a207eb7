"""SANS of the LOQ-like instrument (idiom: instrument/loq/sans.py).

The instrument object's public methods are published twice by a locals() loop, in lower
and upper case (`setup_dae_transmission` and `SETUP_DAE_TRANSMISSION`), as the real file
does; scans.py imports one of them by name.
"""

from scanlib.util import local_wrapper


class Loq:
    """The SANS instrument."""

    def setup_dae_transmission(self):
        """Set up the DAE for a transmission measurement."""
        print("DAE: transmission")

    def setup_dae_event(self):
        """Set up the DAE for an event-mode SANS measurement."""
        print("DAE: event mode")


obj = Loq()
for method in dir(obj):
    if method[0] != "_" and method not in locals() and callable(getattr(obj, method)):
        locals()[method.lower()] = local_wrapper(obj, method)
        locals()[method.upper()] = local_wrapper(obj, method)
