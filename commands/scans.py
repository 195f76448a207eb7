"""Scans of the demo instrument: step a block and count at each point."""

import math
from typing import List, Literal

from _beamline import load_state, message, pause_point, progress, simulating, sleep, update_state

MOVE_SECONDS = 0.05
"""Demo time to move a block to the next scan point."""

__all__ = ["scan", "scan_points", "estimate_scan", "estimate_scan_points", "validate_scan"]


def scan(
    block: str,
    start: float,
    stop: float,
    steps: int = 5,
    count_seconds: float = 0.2,
    mode: Literal["linear", "log"] = "linear",
) -> List[dict]:
    """Scans a block from start to stop, counting at each point.

    The block is moved to each point in turn and the detector counted for
    ``count_seconds``; progress is reported after each point and the scan can be
    paused between points.

    Args:
        block: name of the block to scan (e.g. ``"sample_height"``).
        start: first point.
        stop: last point.
        steps: number of points, 2 or more.
        count_seconds: counting time at each point, in seconds.
        mode: ``"linear"`` spacing, or ``"log"`` (start and stop must then be positive).

    Returns:
        list of dict: one ``{"position", "counts"}`` entry per point.

    Examples:
        >>> scan("sample_height", -2, 2, steps=9)
        >>> scan("temperature", 10, 100, steps=4, mode="log")
    """
    return _scan_at(block, _points(start, stop, steps, mode), count_seconds)


def estimate_scan(block, start, stop, steps=5, count_seconds=0.2, mode="linear"):
    """Seconds for the whole scan: moves plus counting at every point."""
    return steps * (MOVE_SECONDS + count_seconds)


def validate_scan(block, start, stop, steps=5, count_seconds=0.2, mode="linear"):
    """At least two points; a log scan needs positive ends."""
    if steps < 2:
        return f"a scan needs at least 2 steps, not {steps}"
    if mode == "log" and (start <= 0 or stop <= 0):
        return "a log scan needs start and stop greater than 0"
    if count_seconds <= 0:
        return "count_seconds must be positive"
    return None


def scan_points(block: str, points: List[float], count_seconds: float = 0.2) -> List[dict]:
    """Moves a block through a list of points, counting at each.

    Args:
        block: name of the block to move.
        points: positions to visit, in order.
        count_seconds: counting time at each point, in seconds.

    Returns:
        list of dict: one ``{"position", "counts"}`` entry per point.

    Examples:
        >>> scan_points("theta", [0.5, 1.0, 2.3])
    """
    return _scan_at(block, list(points), count_seconds)


def estimate_scan_points(block, points, count_seconds=0.2):
    return len(points) * (MOVE_SECONDS + count_seconds)


def _points(start, stop, steps, mode):
    if steps == 1:
        return [start]
    if mode == "log":
        ratio = (stop / start) ** (1.0 / (steps - 1))
        return [start * ratio**i for i in range(steps)]
    return [start + (stop - start) * i / (steps - 1) for i in range(steps)]


def _scan_at(block, points, count_seconds):
    results = []
    message(f"Scanning {block} over {len(points)} points")
    for i, position in enumerate(points):
        pause_point()
        progress(
            100.0 * i / len(points), f"{block} = {position:g} (point {i + 1} of {len(points)})"
        )
        sleep(MOVE_SECONDS)
        state = load_state()
        state["motors"][block] = position
        update_state(motors=state["motors"])
        sleep(count_seconds)
        counts = 0 if simulating() else int(1000 * count_seconds * (1 + math.cos(position)))
        results.append({"position": position, "counts": counts})
        print(f"{block}={position:g} counts={counts}")
    progress(100.0, f"scan of {block} done")
    return results
