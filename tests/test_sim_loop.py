"""A RunEngine's event loop in dry runs: sleeps skip ahead on the virtual clock, timeouts
stay real (``scriptserver_ioc/job/_sim_loop.py``)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from waiting import wait_until

from scriptserver_ioc.job import _sim_loop


class Clock:
    """The dry run's clock as the loop sees it: real time plus what was skipped."""

    def __init__(self) -> None:
        self.offset = 0.0

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def virtual():
    """A new event loop on a virtual clock (as ``time.monotonic`` is in a dry run)."""
    clock = Clock()
    loop = asyncio.new_event_loop()
    loop.time = lambda: time.monotonic() + clock.offset
    assert _sim_loop.virtualise(loop, clock)
    assert _sim_loop.virtualise(loop, clock)  # idempotent
    # a broken skip would block for the whole sleep: end the loop instead
    guard = threading.Timer(20, loop.call_soon_threadsafe, [loop.stop])
    guard.start()
    yield loop, clock
    guard.cancel()
    loop.close()


def test_GIVEN_plan_sleeping_1000_s_WHEN_run_THEN_done_and_the_clock_skipped_them(virtual):
    loop, clock = virtual

    async def motion():
        for _ in range(100):
            await asyncio.sleep(10)
        return "arrived"

    started = time.monotonic()
    assert loop.run_until_complete(motion()) == "arrived"
    real = time.monotonic() - started
    # the 1000 s were skipped on the virtual clock, less the real time that passed
    assert 1000 - real <= clock.offset <= 1000


def test_GIVEN_timeout_and_a_sleeping_device_WHEN_answer_late_in_virtual_time_THEN_no_timeout(
    virtual,
):
    """A device polls with sleeps while the plan waits 5 s for an outside answer that comes
    after 50 s of skipped time: the timeout counts real time, so the answer is taken."""
    loop, clock = virtual
    answer = loop.create_future()

    def outside():
        wait_until(lambda: clock.offset >= 50, timeout=10, interval=0.001)
        loop.call_soon_threadsafe(answer.set_result, "late but in time")

    async def poll():
        while True:
            await asyncio.sleep(1)

    async def plan():
        poller = asyncio.ensure_future(poll())
        try:
            return await asyncio.wait_for(answer, timeout=5)
        finally:
            poller.cancel()

    helper = threading.Thread(target=outside, daemon=True)
    helper.start()
    assert loop.run_until_complete(plan()) == "late but in time"
    helper.join(5)


def test_GIVEN_nothing_but_a_timeout_WHEN_waiting_THEN_it_fires_on_its_own_time(virtual):
    loop, clock = virtual

    async def plan():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(loop.create_future(), timeout=0.05)

    loop.run_until_complete(plan())
    assert clock.offset == 0.0  # a timeout is not a sleep: nothing was skipped


def test_GIVEN_loop_that_is_not_asyncio_s_own_WHEN_virtualised_THEN_refused():
    assert not _sim_loop.virtualise(object(), Clock())
