"""When things should end: the running job's progress and time left, the queue's finish.

Pure functions, no I/O. Durations are seconds; unknown is ``None`` (the IOC shows ``-1``).
Where estimates come from is the validator's business (`validate/estimates.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from ..contract.texts import time_of_day

PROGRESS_CAP = 99.0
"""Most percent shown before a job has ended."""


def progress_from_elapsed(elapsed: float, estimate: float | None) -> float | None:
    """Percent done from elapsed time over the estimate, capped at 99 until the job ends."""
    if estimate is None or estimate < 0:
        return None
    if estimate == 0:
        return PROGRESS_CAP
    return min(PROGRESS_CAP, max(0.0, 100.0 * elapsed / estimate))


def remaining(
    estimate: float | None, elapsed: float, progress: float | None = None
) -> float | None:
    """Seconds left for the current job (``CURRENT:REMAINING``), None when unknown.

    Args:
        estimate: expected total duration, or None.
        elapsed: seconds since the job started (excluding nothing: pauses count).
        progress: percent done reported by the job itself or derived from a dry-run timeline
            (not from elapsed/estimate, which would be circular), or None.

    With only an estimate: ``estimate - elapsed``, and 0 once overrun (it should end any
    moment). With only progress: ``elapsed * (100 - p) / p``. With both, a blend that trusts
    the progress more as it grows: weight ``p/100`` on the progress-based figure.
    """
    by_estimate = None if estimate is None or estimate < 0 else max(estimate - elapsed, 0.0)
    if progress is None or progress <= 0:
        return by_estimate
    if progress >= 100:
        return 0.0
    by_progress = max(elapsed, 0.0) * (100.0 - progress) / progress
    if by_estimate is None:
        return by_progress
    weight = progress / 100.0
    return (1.0 - weight) * by_estimate + weight * by_progress


def queue_eta(current_remaining: float | None, queued_estimates: Iterable[float | None]) -> float:
    """``QUEUE:ETA``: current job's remaining time plus every queued estimate (unknown = 0)."""
    total = current_remaining if current_remaining is not None and current_remaining > 0 else 0.0
    for estimate in queued_estimates:
        if estimate is not None and estimate > 0:
            total += estimate
    return float(total)


def queue_finish(eta: float | None, now: datetime | None = None, idle: bool = False) -> str:
    """``QUEUE:FINISH``: local time of day when the queue should be done, ``-`` when idle.

    A finish on a later day gets ``" +Nd"`` (e.g. ``"07:40:12 +1d"``).
    """
    if idle or eta is None or eta < 0:
        return "-"
    now = now or datetime.now().astimezone()
    try:
        finish = now + timedelta(seconds=eta)
    except (OverflowError, ValueError):  # beyond the calendar (year 9999) or NaN
        return "-" if eta != eta else f"in {eta / 31_557_600:.3g} years"
    return time_of_day(finish, now)
