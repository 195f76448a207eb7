"""Sampled lines with line tracing only while something waits (job/tracer.py, `sampled`).

A job running its own lines at full speed must still pause, abort and be edited at its next
line: the request arms line tracing in the job's main thread, on the frames already
running (the module and functions it called), and tracing stops again afterwards.
"""

from __future__ import annotations

import sys

import pytest
from test_runner_support import launch, log_text, python_at_least
from waiting import wait_until

PYTHON_312 = python_at_least((3, 12))
PYTHON_38 = python_at_least((3, 8))

SAMPLED = [
    pytest.param(sys.executable, id="venv"),
    pytest.param(
        PYTHON_312,
        id="py312",
        marks=pytest.mark.skipif(PYTHON_312 is None, reason="no python3.12 here"),
    ),
    pytest.param(
        PYTHON_38,
        id="py38",
        marks=pytest.mark.skipif(PYTHON_38 is None, reason="no python3.8 here"),
    ),
]

SPIN = """\
import time
def spin(rounds):
    n = 0
    try:
        while rounds:
            n += 1
            rounds -= 1
    finally:
        print('cleanup at', n, flush=True)
    return n
spin(200000)
x = 0
while True:
    x += 1
    y = x * 2
"""


@pytest.mark.parametrize("python", SAMPLED)
def test_GIVEN_job_looping_on_its_lines_WHEN_paused_resumed_aborted_THEN_each_at_a_loop_line(
    make_runner, python
):
    runner, events = make_runner(job_python=python, trace_mode="sampled")
    entry = launch(make_runner.data_dir, 1, SPIN)
    runner.start(entry)
    events.wait(1, "line", where=lambda e: e["line"] in (13, 14, 15))  # sampled in the loop

    for round_ in (1, 2):  # armed, disarmed after the resume, armed again
        assert runner.pause(immediate=False) is None
        wait_until(lambda n=round_: len(events.of(1, "paused")) == n)
        assert events.of(1, "paused")[-1]["line"] in (13, 14, 15)
        assert runner.resume() is None
        wait_until(lambda n=round_: len(events.of(1, "resumed")) == n)
    assert runner.abort(kill=False) is None
    finished = events.wait(1, "finished", timeout=4.0)  # well before abort_grace

    assert finished["state"] == "ABORTED"
    assert finished["error"]["line"] in (13, 14, 15)
    assert "cleanup at 200000" in log_text(entry)


@pytest.mark.parametrize("python", SAMPLED)
def test_GIVEN_job_spinning_in_its_function_WHEN_soft_abort_THEN_taken_there_and_finally_runs(
    make_runner, python
):
    runner, events = make_runner(job_python=python, trace_mode="sampled")
    source = SPIN.replace("spin(200000)", "spin(-1)")  # never ends: the abort ends it
    entry = launch(make_runner.data_dir, 2, source)
    runner.start(entry)
    events.wait(2, "line", where=lambda e: e["line"] in (5, 6, 7))  # sampled in spin()

    assert runner.pause(immediate=False) is None
    assert events.wait(2, "paused")["line"] in (5, 6, 7)  # the frame that was running
    assert runner.abort(kill=False) is None
    finished = events.wait(2, "finished", timeout=4.0)

    assert finished["state"] == "ABORTED"
    assert finished["error"]["line"] in (5, 6, 7, 11)
    wait_until(lambda: "cleanup at" in log_text(entry))


def test_GIVEN_bad_trace_mode_WHEN_settings_made_THEN_error_names_the_modes(make_runner):
    with pytest.raises(ValueError, match="'sampled', 'monitoring', 'settrace' or None"):
        make_runner(trace_mode="fast")
