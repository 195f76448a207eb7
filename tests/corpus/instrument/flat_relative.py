"""A module copied out of its package: its relative import fails when imported on its own.

Idiom: instrument/larmor/scans.py's `from .util import flipper1`.
"""

from .util import flipper1  # noqa: F401


def polarised_run(title: str):
    """Run with the flipper on."""
    print("polarised", title)
