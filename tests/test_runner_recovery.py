"""JobRunner warm spare, restart recovery (close, SIGKILL, adopt), channel security, output."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest
from test_runner_support import TIMEOUT, Recorder, launch, log_text, process_gone
from waiting import wait_until

from scriptserver_ioc.runner import JobRunner

REPO = Path(__file__).resolve().parent.parent


def _gated(go: Path) -> str:
    return (
        "import os, scriptserver, time\n"
        "print('before', flush=True)\n"
        "scriptserver.progress(10, 'waiting')\n"
        f"while not os.path.exists({str(go)!r}):\n"
        "    time.sleep(0.01)\n"
        "for i in range(3):\n"
        "    print('after', i)\n"
        "scriptserver.progress(90, 'nearly done')\n"
    )


def test_GIVEN_warm_spare_WHEN_jobs_start_THEN_each_runs_in_the_spare_and_a_new_one_follows(
    make_runner,
):
    runner, events = make_runner(warm_spare=True)
    assert runner.wait_for_spare(10)
    first_spare = runner.spare_pid

    runner.start(launch(make_runner.data_dir, 1, "x = 1\n"))
    assert events.wait(1, "started")["pid"] == first_spare
    assert events.wait(1, "finished")["state"] == "DONE"

    assert runner.wait_for_spare(10)
    second_spare = runner.spare_pid
    assert second_spare != first_spare
    runner.start(launch(make_runner.data_dir, 2, "import time\ntime.sleep(0.05)\n"))
    assert events.wait(2, "started")["pid"] == second_spare  # no new process: how soon,
    events.wait(2, "line")  # bench/bench_runner.py (warm spare against cold start)
    assert events.wait(2, "finished")["state"] == "DONE"


def test_GIVEN_spare_WHEN_prelude_changes_THEN_job_runs_in_a_fresh_process_with_new_prelude(
    make_runner, tmp_path
):
    prelude = tmp_path / "prelude.py"
    prelude.write_text("VALUE = 'old'\n", encoding="utf-8")
    runner, events = make_runner(warm_spare=True, prelude=prelude)
    assert runner.wait_for_spare(10)
    stale_spare = runner.spare_pid

    prelude.write_text("VALUE = 'new value'\n", encoding="utf-8")
    entry = launch(make_runner.data_dir, 3, "print('prelude says', VALUE)\n")
    runner.start(entry)

    assert events.wait(3, "started")["pid"] != stale_spare
    assert events.wait(3, "finished")["state"] == "DONE"
    assert "prelude says new value" in log_text(entry)
    wait_until(lambda: process_gone(stale_spare))


def test_GIVEN_failing_prelude_WHEN_job_starts_THEN_failed_with_prelude_traceback(
    make_runner, tmp_path
):
    prelude = tmp_path / "prelude.py"
    prelude.write_text("x = 1\nundefined_name_in_prelude\n", encoding="utf-8")
    runner, events = make_runner(warm_spare=True, prelude=prelude)
    entry = launch(make_runner.data_dir, 4, "print('job ran')\n")
    runner.start(entry)

    finished = events.wait(4, "finished")

    assert finished["state"] == "FAILED"
    assert finished["error"]["type"] == "NameError"
    assert "prelude" in finished["error"]["message"]
    assert f'File "{prelude}", line 2' in finished["error"]["traceback"]
    assert "undefined_name_in_prelude" in log_text(entry)
    assert "job ran" not in log_text(entry)


def test_GIVEN_runner_closed_while_job_runs_WHEN_new_runner_adopts_THEN_job_reported_to_the_end(
    make_runner, tmp_path
):
    go = tmp_path / "go"
    first, first_events = make_runner()
    entry = launch(make_runner.data_dir, 5, _gated(go))
    first.start(entry)
    handle = first_events.wait(5, "started")["handle"]
    first_events.wait(5, "progress")

    first.close()
    assert psutil.pid_exists(handle["pid"]) and not process_gone(handle["pid"])
    second, events = make_runner()
    second.adopt(5, handle, entry["log_path"])
    wait_until(lambda: events.of(5, "progress"))  # the job reconnected and re-sent its state
    go.touch()

    finished = events.wait(5, "finished")
    assert finished["state"] == "DONE"
    assert events.of(5, "progress")[-1]["message"] == "nearly done", [
        e for e in events.of(5) if e["type"] != "output"
    ]
    assert "before" in events.of(5, "output")[-1]["tail"]
    assert "after 2" in events.of(5, "output")[-1]["tail"]
    assert log_text(entry).splitlines() == ["before", "after 0", "after 1", "after 2"]
    assert first_events.of(5, "finished") == []


def test_GIVEN_job_finished_while_no_runner_WHEN_adopted_THEN_finished_from_result_file(
    make_runner, tmp_path
):
    go = tmp_path / "go"
    first, first_events = make_runner()
    entry = launch(make_runner.data_dir, 6, _gated(go))
    first.start(entry)
    handle = first_events.wait(6, "started")["handle"]
    first_events.wait(6, "progress")
    first.close()

    go.touch()
    wait_until(lambda: process_gone(handle["pid"]))
    second, events = make_runner()
    second.adopt(6, handle, entry["log_path"])

    finished = events.wait(6, "finished")
    assert (finished["state"], finished["error"], finished["exit_code"]) == ("DONE", None, 0)


def test_GIVEN_started_never_stored_WHEN_adopted_with_launch_record_THEN_found_by_handle_file(
    make_runner, tmp_path
):
    """Before: a job whose ``started`` handle core never stored was recorded INTERRUPTED
    after a restart even though its process was alive and went on to finish."""
    go = tmp_path / "go"
    first, first_events = make_runner()
    entry = launch(make_runner.data_dir, 9, _gated(go))
    first.start(entry)
    pid = first_events.wait(9, "started")["pid"]
    first_events.wait(9, "progress")
    first.close()  # as if the server died before storing the ``started`` handle

    second, events = make_runner()
    second.adopt(9, {"launched": "2026-12-01T08:00:00+00:00"}, entry["log_path"])
    wait_until(lambda: events.of(9, "progress"))  # reconnected: it was found and adopted
    go.touch()

    finished = events.wait(9, "finished")
    assert (finished["state"], finished["error"]) == ("DONE", None)
    assert log_text(entry).splitlines() == ["before", "after 0", "after 1", "after 2"]
    wait_until(lambda: process_gone(pid))
    assert not Path(entry["log_path"] + ".handle.json").exists()  # gone with the job


def test_GIVEN_launch_record_without_handle_file_WHEN_adopted_THEN_interrupted_never_ran(
    make_runner,
):
    runner, events = make_runner()
    runner.adopt(10, {"launched": "2026-12-01T08:00:00+00:00"}, str(make_runner.data_dir / "j.log"))

    finished = events.wait(10, "finished")

    assert finished["state"] == "INTERRUPTED"
    assert "no launch handle" in finished["error"]["message"]


def test_GIVEN_gone_process_without_result_WHEN_adopted_THEN_interrupted(make_runner):
    runner, events = make_runner()
    handle = {"pid": 2**22 + 12345, "create_time": 1.0, "key": "gone"}
    runner.adopt(7, handle, str(make_runner.data_dir / "job-7.log"))

    finished = events.wait(7, "finished")

    assert finished["state"] == "INTERRUPTED"
    assert "no longer running" in finished["error"]["message"]


IOC_SCRIPT = """
import json, sys, threading
from pathlib import Path
from scriptserver_ioc.runner import JobRunner, RunnerSettings
started = threading.Event()
class Events:
    def on_job_event(self, job_id, event):
        if event["type"] == "started":
            print(json.dumps(event["handle"]), flush=True)
runner = JobRunner(RunnerSettings(job_python=sys.executable, data_dir=Path(sys.argv[1]),
                                  warm_spare=True), Events())
runner.wait_for_spare(10)
runner.start(json.loads(sys.argv[2]))
threading.Event().wait()
"""


def test_GIVEN_ioc_sigkilled_while_job_runs_WHEN_restarted_THEN_job_adopted_and_finishes(
    make_runner, tmp_path
):
    go = tmp_path / "go"
    entry = launch(make_runner.data_dir, 8, _gated(go))
    ioc = subprocess.Popen(
        [sys.executable, "-c", IOC_SCRIPT, str(make_runner.data_dir), json.dumps(entry)],
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        handle = json.loads(ioc.stdout.readline())
        make_runner.pids.add(handle["pid"])
        log = Path(entry["log_path"])
        wait_until(lambda: log.exists() and "before" in log_text(entry))
    finally:
        ioc.kill()
        ioc.wait()
    assert not process_gone(handle["pid"])

    runner, events = make_runner(warm_spare=True)
    runner.adopt(8, handle, entry["log_path"])
    wait_until(lambda: events.of(8, "progress"))
    go.touch()

    assert events.wait(8, "finished")["state"] == "DONE"
    assert log_text(entry).splitlines() == ["before", "after 0", "after 1", "after 2"]


def test_GIVEN_job_printing_100_MB_WHEN_run_THEN_log_complete_and_runner_memory_bounded(
    make_runner,
):
    runner, events = make_runner()
    me = psutil.Process()
    peak = [me.memory_info().rss]
    events.callback = lambda job_id, event: peak.append(me.memory_info().rss)
    before = me.memory_info().rss
    source = (
        "import sys\n"
        "line = 'x' * 1023 + '\\n'\n"
        "write = sys.stdout.write\n"
        "for i in range(102400):\n"
        "    write(line)\n"
    )
    entry = launch(make_runner.data_dir, 9, source)
    runner.start(entry)

    assert events.wait(9, "finished", timeout=60)["state"] == "DONE"
    assert os.path.getsize(entry["log_path"]) == 100 * 1024 * 1024
    assert max(peak) - before < 30 * 1024 * 1024
    assert all(len(e["tail"]) <= 16384 for e in events.of(9, "output"))


def test_GIVEN_channel_WHEN_connecting_without_the_secret_THEN_rejected(make_runner):
    runner, _ = make_runner()
    runtime = make_runner.data_dir / "runtime"
    address = json.loads((runtime / "channel.json").read_text())
    assert (address["host"], address["port"]) == ("127.0.0.1", runner.channel_port)
    assert stat.S_IMODE((runtime / "secret").stat().st_mode) == 0o600

    with socket.create_connection(("127.0.0.1", runner.channel_port), timeout=5) as sock:
        hello = {"type": "hello", "key": "k", "pid": 1, "job_id": 1, "secret": "guess"}
        sock.sendall((json.dumps(hello) + "\n").encode())
        reply = sock.makefile("rb").readline()
        assert json.loads(reply)["type"] == "rejected"
        assert sock.recv(100) == b""


def test_GIVEN_secret_file_WHEN_runner_restarts_THEN_same_secret_is_reused(make_runner):
    first, _ = make_runner()
    secret_file = make_runner.data_dir / "runtime" / "secret"
    secret = secret_file.read_text()
    first.close()
    make_runner()
    assert secret_file.read_text() == secret and len(secret) >= 32


def test_GIVEN_events_receiver_WHEN_it_starts_the_next_job_from_finished_THEN_it_runs(
    make_runner,
):
    holder: list[JobRunner] = []
    data_dir = make_runner.data_dir

    def start_next(job_id, event):
        if event["type"] == "finished" and job_id < 13:
            holder[0].start(launch(data_dir, job_id + 1, f"print({job_id + 1})\n"))

    recorder = Recorder()
    recorder.callback = start_next
    runner, events = make_runner(recorder)
    holder.append(runner)
    runner.start(launch(data_dir, 10, "print(10)\n"))

    assert events.wait(13, "finished")["state"] == "DONE"
    assert [e["state"] for e in events.of(None, "finished")] == ["DONE"] * 4


def test_GIVEN_deferred_paused_job_WHEN_runner_restarts_THEN_adopted_paused_and_resumable(
    make_runner, tmp_path
):
    go = tmp_path / "go"
    first, first_events = make_runner()
    entry = launch(make_runner.data_dir, 20, _gated(go))
    first.start(entry)
    handle = first_events.wait(20, "started")["handle"]
    first_events.wait(20, "progress")
    assert first.pause(immediate=False) is None
    assert first_events.wait(20, "paused")["line"] in (4, 5)
    first.close()

    second, events = make_runner()
    wait_until(lambda: handle["key"] in second._parked)  # it reconnected before adopt
    second.adopt(20, handle, entry["log_path"])
    assert events.wait(20, "paused")["immediate"] is False
    go.touch()
    assert second.resume() is None
    events.wait(20, "resumed")

    assert events.wait(20, "finished")["state"] == "DONE"
    assert "after 2" in log_text(entry)


def test_GIVEN_suspended_job_WHEN_runner_restarts_THEN_adopted_paused_and_resumable(
    make_runner, tmp_path
):
    go = tmp_path / "go"
    first, first_events = make_runner()
    entry = launch(make_runner.data_dir, 21, _gated(go))
    first.start(entry)
    handle = first_events.wait(21, "started")["handle"]
    first_events.wait(21, "progress")
    assert first.pause(immediate=True) is None
    first.close()
    wait_until(lambda: psutil.Process(handle["pid"]).status() == psutil.STATUS_STOPPED)

    second, events = make_runner()
    second.adopt(21, handle, entry["log_path"])
    assert events.wait(21, "paused")["immediate"] is True
    go.touch()
    assert second.resume() is None

    assert events.wait(21, "finished")["state"] == "DONE"
    assert "after 2" in log_text(entry)


DISK_FULL_JOB = (
    "import resource\n"
    "print('before the disk filled', flush=True)\n"
    "soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))  # no file may grow any more\n"
    "print('lost ' * 1000, flush=True)\n"
    "print('lost too')\n"
)


@pytest.mark.parametrize("ending", ["", "raise ValueError('the script failed')\n"])
def test_GIVEN_job_whose_disk_fills_WHEN_it_ends_THEN_its_script_decides_the_state(
    make_runner, ending
):
    """Before: the first print after the disk filled raised OSError (File too large) in
    the script, and the launcher's own writes could end the process with exit code 1."""
    pytest.importorskip("resource")  # the file-size limit is POSIX
    runner, events = make_runner()
    entry = launch(make_runner.data_dir, 11, DISK_FULL_JOB + ending)
    runner.start(entry)

    finished = events.wait(11, "finished")

    if ending:
        assert (finished["state"], finished["exit_code"]) == ("FAILED", 1)
        assert finished["error"]["type"] == "ValueError", finished["error"]
    else:
        assert (finished["state"], finished["error"], finished["exit_code"]) == ("DONE", None, 0)
    assert "File too large" in finished["log_error"], finished
    assert "bytes of output were not written" in finished["log_error"]
    assert "cannot write its result file" in finished["log_error"]
    assert log_text(entry) == "before the disk filled\n"
    assert not list(Path(entry["log_path"]).parent.glob("*.tmp"))  # nothing half-written


def test_GIVEN_server_gone_before_run_reached_job_WHEN_adopted_THEN_interrupted_not_stuck(
    make_runner,
):
    """A cold-started job whose ``run`` was still in the outbox when its server went: its
    handle file says where it is, but it never ran. Adopted, it must end INTERRUPTED, not
    wait for a ``run`` that never comes (the job would stay RUNNING for ever)."""
    held = threading.Event()
    recorder = Recorder()

    def hold(job_id, event):  # the process is spawned on a runner thread: stop it there
        if event["type"] == "started":
            psutil.Process(event["pid"]).suspend()  # so it cannot connect before close()
            held.set()

    recorder.callback = hold
    first, first_events = make_runner(recorder)
    entry = launch(make_runner.data_dir, 12, "print('must not run')\n")
    first.start(entry)
    assert held.wait(TIMEOUT)
    pid = first_events.wait(12, "started")["pid"]
    first.close()  # the new process has not connected: `run` is never sent
    psutil.Process(pid).resume()

    second, events = make_runner()
    second.adopt(12, {"launched": "2026-12-01T08:00:00+00:00"}, entry["log_path"])

    finished = events.wait(12, "finished", timeout=40)
    assert finished["state"] == "INTERRUPTED", finished
    assert "did not run" in finished["error"]["message"]
    assert "must not run" not in log_text(entry)
    wait_until(lambda: process_gone(pid))
