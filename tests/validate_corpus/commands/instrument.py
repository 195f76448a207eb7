"""Hand-made commands for the validation tests (not the demo instrument)."""

import os
import time


def set_temperature(temperature: float, wait: bool = True) -> None:
    """Sets the sample temperature.

    Args:
        temperature: setpoint in K.
        wait: wait until the temperature is stable.
    """
    time.sleep(0.01)


def estimate_set_temperature(temperature, wait=True):
    return 300.0 if wait else 1.0


def validate_set_temperature(temperature, wait=True):
    if not 1.5 <= temperature <= 300:
        return f"temperature {temperature:g} K is out of range 1.5 to 300 K"
    return None


def count(minutes: float = 1.0, title: str = "") -> int:
    """Counts neutrons.

    Args:
        minutes: counting time.
        title: run title.
    """
    time.sleep(minutes * 60)
    return 1


def estimate_count(minutes=1.0, title=""):
    return minutes * 60


def validate_count(minutes=1.0, title=""):
    if minutes <= 0:
        return "minutes must be > 0"
    return None


def shutter(open: bool = True) -> str:
    """Opens or closes the shutter (no estimate: a dry run runs it in simulation)."""
    time.sleep(5)
    return "open" if open else "closed"


def mark(path: str) -> None:
    """Creates a file; checks its folder first (a dry run runs it, so finds a missing one)."""
    import os

    import scriptserver

    if not os.path.isdir(os.path.dirname(path)):
        raise FileNotFoundError(f"no folder for {path}")
    if not scriptserver.simulating():  # the demo instrument's idiom: no side effects in a dry run
        with open(path, "w") as f:
            f.write("executed")


def estimate_mark(path):
    return 2.5


def lazy(x: int = 1) -> None:
    """A command whose estimate is broken."""


def estimate_lazy(x=1):
    return "soon"


def fragile(x: float) -> None:
    """A command whose check divides by its argument."""


def validate_fragile(x):
    return None if 1 / x else None


def environment_name() -> str:
    """Reads the environment (no companions at all)."""
    return os.environ.get("USER", "")
