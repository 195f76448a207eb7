"""A command file that cannot be imported by the job interpreter."""

import genie_python_not_installed  # noqa: F401


def needs_missing(x: int = 1) -> None:
    """Needs a module that is not installed."""


def validate_needs_missing(x=1):
    return None
