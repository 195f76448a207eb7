"""SANS on a second instrument (idiom: instrument/zoom/sans.py): commands of an object.

Published by a globals() loop; the nested folder is reached through zoom_setup.py.
"""

import functools


class Zoom:
    """The instrument."""

    def set_aperture(self, size: str = "large"):
        """Set the beam aperture."""
        print("aperture", size)

    def do_sans(self, title: str, uamps: float = 10.0):
        """Measure small-angle scattering of a sample."""
        print("sans", title, uamps)


def _bind(obj, name):
    @functools.wraps(getattr(obj, name))
    def command(*args, **kwargs):
        return getattr(obj, name)(*args, **kwargs)

    return command


_zoom = Zoom()
for _name in ("set_aperture", "do_sans"):
    globals()[_name] = _bind(_zoom, _name)
