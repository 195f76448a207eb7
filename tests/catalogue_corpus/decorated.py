"""Commands wrapped by decorators: still commands, signature from the def itself."""

import functools


def _logged(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


def _retry(times):
    def decorate(func):
        return func

    return decorate


@_logged
def wrapped(energy: float, wait: bool = True):
    """A decorated command.

    Args:
        energy: energy in meV.
        wait: wait for it.
    """


@_retry(3)
@_logged
def twice_wrapped(count: int = 1):
    """Two decorators, one with arguments."""
