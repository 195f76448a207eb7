"""A clock for unit tests of the core: time passes when the test says so, not while it sleeps.

`ManualTimers` is the core's `Timers` port (`core.ports.Timers`, on this machine
`host.ThreadTimers`) with its own time: `now()` and `monotonic()` stand still until
`advance(seconds)`, which runs every timer then due, in order, on the test's thread. A
test of a timeout or of time passing (a paused job's remaining time, the wait for a
verdict, the retry of an unsaved end) advances the clock instead of sleeping, and sees
the effect at once. Background work (`in_background`: dry runs) still runs on a thread:
it is work, not time.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable


class ManualTimer:
    """A timer of `ManualTimers`: `cancel()` stops it if it has not fired."""

    def __init__(self, due: float, action: Callable[[], None]) -> None:
        self.due = due
        self.action = action
        self.cancelled = False

    def cancel(self) -> None:
        """Stop the timer if it has not fired."""
        self.cancelled = True


class ManualTimers:
    """`core.ports.Timers` whose time moves only with `advance`.

    Args:
        start: its wall-clock time at the start (default: now, to the whole second, so
            the times a job record keeps, in milliseconds, are exact).
    """

    def __init__(self, start: float | None = None) -> None:
        self.start = float(round(time.time()) if start is None else start)
        self.elapsed = 0.0
        self._timers: list[tuple[float, int, ManualTimer]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch on this clock."""
        return self.start + self.elapsed

    def monotonic(self) -> float:
        """Seconds since this clock was made."""
        return self.elapsed

    def call_later(self, seconds: float, action: Callable[[], None]) -> ManualTimer:
        """Call `action()` once this clock has advanced `seconds` from now."""
        with self._lock:
            timer = ManualTimer(self.elapsed + max(seconds, 0.0), action)
            heapq.heappush(self._timers, (timer.due, next(self._order), timer))
        return timer

    def in_background(self, action: Callable[[], None], name: str) -> None:
        """Run `action()` now on a daemon thread named `name` (work, not time)."""
        threading.Thread(target=action, name=name, daemon=True).start()

    def pending(self) -> list[float]:
        """Seconds from now until each timer not yet fired nor cancelled, soonest first."""
        with self._lock:
            due = sorted(t.due for _, _, t in self._timers if not t.cancelled)
        return [d - self.elapsed for d in due]

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass: every timer due by then fires, in order, on this thread.

        A timer set by a firing one fires too if it is due within the same `seconds`.
        """
        end = self.elapsed + seconds
        while True:
            with self._lock:
                if not self._timers or self._timers[0][0] > end:
                    self.elapsed = end
                    return
                due, _, timer = heapq.heappop(self._timers)
                self.elapsed = max(self.elapsed, due)
            if not timer.cancelled:
                timer.action()
