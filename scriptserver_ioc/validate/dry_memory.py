"""The last dry runs' estimates and timelines, by job key (the Validator's memory)."""

from __future__ import annotations

import threading
from collections import OrderedDict

ESTIMATES_KEPT = 1000
TIMELINES_KEPT = 50


class DryRunMemory:
    """Estimates of the last 1000 successful dry runs and timelines of the last 50.

    So ``VALIDATE`` with a dry run followed by ``QUEUE:ADD`` of the same job gives an
    estimate, and a running job's progress can follow its simulated timeline. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._estimates: OrderedDict[str, float] = OrderedDict()
        self._timelines: OrderedDict[str, tuple[list[dict], float]] = OrderedDict()

    def remember(self, key: str, result: dict) -> None:
        """Keep a successful dry run's estimate and timeline under the job's key."""
        estimate = float(result["estimate"])
        with self._lock:
            _put(self._estimates, key, estimate, ESTIMATES_KEPT)
            _put(self._timelines, key, (list(result.get("steps") or []), estimate), TIMELINES_KEPT)

    def estimate(self, key: str | None) -> float | None:
        """The last dry-run estimate of this job, or None."""
        with self._lock:
            return self._estimates.get(key) if key else None

    def timeline(self, key: str) -> tuple[list[dict], float] | None:
        """``(steps, total)`` of the last successful dry run of this job, or None."""
        with self._lock:
            return self._timelines.get(key)


def _put(cache: OrderedDict, key: str, value: object, keep: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > keep:
        cache.popitem(last=False)
