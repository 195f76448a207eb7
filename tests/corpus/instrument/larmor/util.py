"""Small utilities of the beamline (idiom: instrument/larmor/util.py)."""

STATE = {"flipper": 0}


def flipper1(state: int = 0):
    """Set the state of the spin flipper.

    0 is flipper off, and 1 flipper is running.
    """
    STATE["flipper"] = int(state)
    print("flipper1", state)
