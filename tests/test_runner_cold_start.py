"""JobRunner.start without a warm spare: the process is spawned on a runner thread.

`start()` must return at once (it runs on the Channel Access thread), so what is asked of
the job while its process is being spawned is held and carried out once it exists. A
subclass holds `_spawn` of a job on an Event the test controls (spares are disabled).
"""

from __future__ import annotations

import threading
from pathlib import Path

import psutil
from test_runner_support import TIMEOUT, Recorder, launch, process_gone
from waiting import wait_until

from scriptserver_ioc.runner import JobRunner
from scriptserver_ioc.runner.handles import handle_path


class GatedRunner(JobRunner):
    """A runner whose job spawns wait for ``gate`` (spares, if any, are not held)."""

    def __init__(self, *args, **kwargs) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.spawned: list[int] = []
        super().__init__(*args, **kwargs)

    def _spawn(self, jp, args, output) -> None:
        if jp.job_id is not None:  # a job's cold start
            self.entered.set()
            assert self.gate.wait(TIMEOUT), "the test never opened the spawn gate"
        super()._spawn(jp, args, output)
        self.spawned.append(jp.pid)


def _gated(make_runner, **overrides):
    recorder = Recorder()
    runner = GatedRunner(make_runner.settings(**overrides), recorder)
    make_runner.runners.append(runner)
    return runner, recorder


def _spawned_pid(runner: GatedRunner) -> int:
    wait_until(lambda: runner.spawned)
    return runner.spawned[0]


def test_GIVEN_no_spare_WHEN_start_THEN_returns_before_the_process_exists_and_it_runs_later(
    make_runner,
):
    runner, events = _gated(make_runner)
    assert runner.settings.warm_spare is False
    entry = launch(make_runner.data_dir, 1, "x = 1\ny = 2\n")

    runner.start(entry)  # returns although the spawn is held

    assert runner.entered.wait(TIMEOUT)
    assert events.of(1) == [] and runner.spawned == []
    assert "still running" in _start_error(runner, launch(make_runner.data_dir, 2, "pass\n"))
    assert not handle_path(entry["log_path"]).exists()  # no process, no `run`: no handle
    runner.gate.set()
    started = events.wait(1, "started")
    assert started["pid"] == _spawned_pid(runner)
    assert events.wait(1, "finished")["state"] == "DONE"


def _start_error(runner: JobRunner, entry: dict) -> str:
    try:
        runner.start(entry)
    except RuntimeError as exc:
        return str(exc)
    return ""


def test_GIVEN_spawn_in_progress_WHEN_kill_THEN_killed_once_the_process_exists(make_runner):
    runner, events = _gated(make_runner)
    runner.start(launch(make_runner.data_dir, 3, "import time\ntime.sleep(60)\n"))
    assert runner.entered.wait(TIMEOUT)

    assert runner.abort(kill=True) is None
    runner.gate.set()
    finished = events.wait(3, "finished")

    assert finished["state"] == "ABORTED"
    assert process_gone(_spawned_pid(runner))
    assert runner.abort(kill=True) == "no job is running"


def test_GIVEN_spawn_in_progress_WHEN_soft_abort_THEN_job_aborted_without_escalation(
    make_runner,
):
    runner, events = _gated(make_runner)  # abort_grace 5 s
    runner.start(launch(make_runner.data_dir, 4, "import time\ntime.sleep(60)\n"))
    assert runner.entered.wait(TIMEOUT)

    assert runner.abort(kill=False, reason="test") is None
    assert "already being aborted" in runner.abort(kill=False)
    runner.gate.set()
    finished = events.wait(4, "finished", timeout=4.0)  # well before abort_grace

    assert finished["state"] == "ABORTED"
    assert finished["error"]["type"] == "JobAborted"


def test_GIVEN_spawn_in_progress_WHEN_immediate_pause_THEN_suspended_once_it_exists(
    make_runner, tmp_path
):
    marker = tmp_path / "ran"
    runner, events = _gated(make_runner)
    source = f"open({str(marker)!r}, 'w').close()\n"
    runner.start(launch(make_runner.data_dir, 5, source))
    assert runner.entered.wait(TIMEOUT)

    assert runner.pause(immediate=True) is None
    assert events.wait(5, "paused")["immediate"] is True
    assert "already paused" in runner.pause(immediate=True)
    runner.gate.set()
    pid = events.wait(5, "started")["pid"]
    wait_until(lambda: psutil.Process(pid).status() == psutil.STATUS_STOPPED)

    assert not marker.exists()
    assert runner.resume() is None
    assert events.wait(5, "finished")["state"] == "DONE"
    assert marker.exists()


def test_GIVEN_spawn_in_progress_WHEN_deferred_pause_THEN_pauses_before_its_first_line(
    make_runner, tmp_path
):
    marker = tmp_path / "ran"
    runner, events = _gated(make_runner)
    source = f"x = 1\nopen({str(marker)!r}, 'w').close()\n"
    runner.start(launch(make_runner.data_dir, 6, source))
    assert runner.entered.wait(TIMEOUT)

    assert runner.pause(immediate=False) is None
    runner.gate.set()
    paused = events.wait(6, "paused")

    assert paused["immediate"] is False
    assert not marker.exists()
    assert runner.resume() is None
    assert events.wait(6, "finished")["state"] == "DONE"
    assert marker.exists()


def test_GIVEN_spawn_in_progress_WHEN_pause_then_resume_THEN_runs_through_without_pausing(
    make_runner, tmp_path
):
    runner, events = _gated(make_runner)
    runner.start(launch(make_runner.data_dir, 8, "x = 1\ny = 2\n"))
    assert runner.entered.wait(TIMEOUT)

    assert runner.pause(immediate=False) is None
    assert runner.resume() is None  # cancels the pause that has not taken effect
    assert runner.pause(immediate=False) is None
    assert runner.resume() is None
    runner.gate.set()

    assert events.wait(8, "finished")["state"] == "DONE"
    assert events.of(8, "paused") == []


def test_GIVEN_spawn_in_progress_WHEN_it_fails_THEN_launch_failure_event(make_runner, tmp_path):
    runner, events = _gated(make_runner, job_python=str(tmp_path / "no-such-python"))
    runner.start(launch(make_runner.data_dir, 7, "pass\n"))
    assert runner.entered.wait(TIMEOUT)
    assert events.of(7) == []

    runner.gate.set()
    finished = events.wait(7, "finished")

    assert finished["state"] == "FAILED"
    assert finished["error"]["type"] == "LaunchError"
    assert "no-such-python" in finished["error"]["message"]
    assert events.of(7, "started") == []
    assert runner.pause(immediate=True) == "no job is running"
    assert runner.start(launch(make_runner.data_dir, 8, "pass\n")) is None  # not stuck


def test_GIVEN_spawn_in_progress_WHEN_closed_THEN_no_process_is_left(make_runner):
    runner, events = _gated(make_runner)
    entry = launch(make_runner.data_dir, 9, "import time\ntime.sleep(60)\n")
    runner.start(entry)
    assert runner.entered.wait(TIMEOUT)

    runner.close()  # returns at once, the spawn still held
    runner.gate.set()
    pid = _spawned_pid(runner)

    wait_until(lambda: process_gone(pid))
    assert not Path(handle_path(entry["log_path"])).exists()
    assert events.of(9, "started") == []
