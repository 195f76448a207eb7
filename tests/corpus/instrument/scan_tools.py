"""Scan classes and the functions they use (idiom: general/scans/scans.py).

merge_dicts, estimate and get_input are helpers of the Scan class; fine_scan is made with
functools.partial; quick_count is the result of a decorator applied by assignment.
"""

import functools
from functools import partial
from time import sleep  # noqa: F401  (a standard-library name: never a command)


def merge_dicts(x, y):
    """Given two dicts, merge them into a new dict as a shallow copy."""
    final = x.copy()
    final.update(y)
    return final


def estimate(seconds=None, frames=None):
    """Predict how long a measurement takes in seconds."""
    return seconds or (frames or 0) / 10.0


def get_input(prompt: str):
    return input(prompt)


class Scan:
    """A scan over points."""

    def __init__(self, points):
        self.points = points

    def plan(self, **kwargs):
        merge_dicts(kwargs, {"points": self.points})
        return estimate(**kwargs)


def scan_points(motion: str, start: float, stop: float, count: int = 10, frames: int = 100):
    """Scan a motion over evenly spaced points.

    Args:
        motion: the block to move.
        start: first point.
        stop: last point.
        count: number of points.
        frames: frames per point.
    """
    print("scan", motion, start, stop, count, frames)


fine_scan = partial(scan_points, count=50)


def counted(func):
    """Decorator that prints a count line around a command (a helper)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        print("count start")
        return func(*args, **kwargs)

    return wrapper


def _count(frames: int = 100, title: str = "quick"):
    """Count frames with a title."""
    print("count", frames, title)


quick_count = counted(_count)
