"""A plan under the runner's soft abort whose cleanup never ends: it escalates to
terminate and kill, as for any job (docs/bluesky.md), with real job processes."""

from __future__ import annotations

import pytest
from test_runner_support import launch, log_text
from waiting import wait_until

pytest.importorskip("bluesky")

STUCK_CLEANUP = """\
import time

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
from bluesky import RunEngine

RE = RunEngine(call_returns_result=True)


def plan():
    print("PLAN RUNS", flush=True)
    while True:
        yield from bps.checkpoint()
        yield from bps.sleep(0.02)


def cleanup():
    print("CLEANUP STARTS", flush=True)
    time.sleep(3600)  # a device call that never returns, in the RunEngine's loop
    yield from bps.null()


RE(bpp.finalize_wrapper(plan(), cleanup()))
"""


def test_GIVEN_plan_whose_cleanup_hangs_WHEN_soft_abort_THEN_escalates_and_ends_aborted(
    make_runner,
):
    runner, events = make_runner(abort_grace=0.5, terminate_grace=0.5)
    entry = launch(make_runner.data_dir, 3, STUCK_CLEANUP)
    runner.start(entry)
    wait_until(lambda: "PLAN RUNS" in log_text(entry), timeout=30)

    assert runner.abort(kill=False) is None
    finished = events.wait(3, "finished")

    assert "CLEANUP STARTS" in log_text(entry)  # the soft abort reached the RunEngine first
    assert finished["state"] == "ABORTED"
    message = finished["error"]["message"]  # terminated (SIGTERM), or killed after it
    assert "(terminated: it did not end in time)" in message or "while being aborted" in message
