"""Scan utilities (idiom: InstrumentScripts general/scans/util.py)."""

from functools import wraps


def local_wrapper(obj, method):
    """Get a function that calls METHOD on object OBJ (general/scans/util.py's idiom)."""

    @wraps(getattr(obj, method))
    def inner(*args, **kwargs):
        return getattr(obj, method)(*args, **kwargs)

    return inner


def dae_setter(mode):
    """Decorator recording the DAE mode a setup method selects (technique/sans/util.py)."""

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            print("DAE mode", mode)
            return func(*args, **kwargs)

        return wrapper

    return decorator
