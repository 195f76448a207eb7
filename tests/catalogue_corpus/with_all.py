"""A file with __all__: only listed public functions are commands."""

from os.path import basename

__all__ = ["listed", "_private_listed", "basename", "not_defined_here"]  # noqa: F822
__all__ += ["added_later"]


def listed(x: int = 1):
    """Listed in __all__."""


def not_listed(x: int = 1):
    """Public but not listed."""


def _private_listed():
    """Private names are never commands, even when listed."""


def added_later():
    """Listed by __all__ +=."""
