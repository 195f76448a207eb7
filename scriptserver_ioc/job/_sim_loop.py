"""A RunEngine's asyncio event loop on the dry run's virtual clock.

Runs inside the dry-run process (``simulate.py``): standard library only, Python 3.8+.

A plan's devices wait in the RunEngine's event loop: an ophyd-async simulated motor moves
in steps of ``asyncio.sleep``, a detector counts for its time, a plan stub sleeps. In a
dry run these sleeps skip ahead on the virtual clock, so a 20 s scan is checked in a
moment and its estimate counts them; timeouts (``asyncio.wait_for``, a CA connection's
time limit, a ``set``'s timeout) keep counting real time, so a device that really answers
late is not timed out early by a skip.

How: the loop's time is ``time.monotonic()``, which the dry run already makes virtual
(``sim_patches``). When the loop is about to block until its next timer and that timer
is the end of an ``asyncio.sleep`` (its callback is asyncio's
``_set_result_unless_cancelled``), it first polls its I/O; if nothing is ready it advances
the virtual clock to the timer at once instead of blocking, and moves every other timer
(the timeouts) later by the same amount. Any other wait blocks for real, as before.
"""

from __future__ import annotations

import heapq

_VIRTUAL = "_scriptserver_virtual_time"


def virtualise(loop, clock) -> bool:
    """Put ``loop``'s sleeps on ``clock`` (a ``sim_state.Clock``); idempotent.

    Returns False, changing nothing, for a loop that is not one of asyncio's own (no
    selector or proactor, no timer heap): it then waits in real time.
    """
    import asyncio.futures

    waiter = getattr(loop, "_selector", None) or getattr(loop, "_proactor", None)
    timers = getattr(loop, "_scheduled", None)
    wakes_sleep = getattr(asyncio.futures, "_set_result_unless_cancelled", None)
    if waiter is None or not isinstance(timers, list) or wakes_sleep is None:
        return False
    if getattr(waiter, _VIRTUAL, False):
        return True
    real_select = waiter.select

    def select(timeout=None):
        # The loop asks to block for `timeout` s: exactly until its earliest timer.
        if not timeout or timeout <= 0 or not timers:
            return real_select(timeout)
        if getattr(timers[0], "_callback", None) is not wakes_sleep:
            return real_select(timeout)
        ready = real_select(0)
        if ready:
            return ready
        clock.advance(timeout)
        for timer in timers:
            if getattr(timer, "_callback", None) is not wakes_sleep:
                timer._when += timeout  # a timeout: still that much real time away
        heapq.heapify(timers)
        return ready

    waiter.select = select
    setattr(waiter, _VIRTUAL, True)
    return True
