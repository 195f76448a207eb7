"""Running jobs over Channel Access: lines, pause, resume, abort, kill, errors, recovery."""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import psutil
import pytest
from conftest import CaprotoClient, wait_until

from scriptserver_ioc.client.client import ScriptServerClient

PID_LINE = "import os\nprint('PID', os.getpid(), flush=True)\n"


@pytest.fixture
def runner(ioc):
    """A client of a running IOC whose queue runs (not held)."""
    client = ScriptServerClient(ioc.prefix)
    client.put("QUEUE:HOLD", 0)
    return client


def last(client) -> dict:
    return client.get_json("HISTORY")[0]


def finished(client, job_id: int, timeout: float = 20.0) -> dict:
    wait_until(lambda: client.get("LAST:ID") == job_id, timeout=timeout)
    return last(client)


def job_pid(client) -> int:
    text = wait_until(lambda: re.search(r"PID (\d+)", client.get_text("CURRENT:OUTPUT")), 10)
    return int(text.group(1))


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def test_GIVEN_multiline_script_WHEN_run_THEN_CURRENT_LINE_follows_each_line(runner):
    lines: list[int] = []

    def on_line(value=None, **_):
        lines.append(int(value))

    runner.pv("CURRENT:LINE").add_callback(on_line)
    script = (
        "import scriptserver\n"
        "scriptserver.sleep(0.2)\n"
        "scriptserver.sleep(0.2)\n"
        "for i in range(2):\n"
        "    scriptserver.sleep(0.2)\n"
    )
    (job_id,) = runner.add({"script": script})
    job = finished(runner, job_id)
    assert job["state"] == "DONE"
    seen = [n for n in lines if n]
    changes = [n for i, n in enumerate(seen) if i == 0 or n != seen[i - 1]]
    assert set(changes) <= {1, 2, 3, 4, 5}
    # every line that lasts 0.2 s is seen, in order; line 4 (the `for`, microseconds) may be
    # coalesced into the next one
    assert [n for n in changes if n in (2, 3, 5)] in ([2, 3, 5, 5], [2, 3, 5]), changes
    assert runner.get("CURRENT:ID") == 0 and runner.get("STATE") == 0


def test_GIVEN_running_job_WHEN_deferred_pause_THEN_pauses_between_lines_and_resumes(runner):
    script = (
        "import time\nfor i in range(200):\n    time.sleep(0.05)\n"
        "print('finished loop', flush=True)\n"
    )
    (job_id,) = runner.add({"script": script})
    wait_until(lambda: runner.get("CURRENT:LINE") == 3)
    runner.put("PAUSE", 1)
    wait_until(lambda: runner.get("STATE") == 3)  # PAUSED
    assert runner.get_json("CURRENT")["state"] == "PAUSED"
    paused_line = runner.get("CURRENT:LINE")
    assert paused_line in (2, 3)
    assert runner.get("STATE:CODE") == 1
    reply = runner.put("PAUSE", 1)
    assert not reply["ok"] and "already paused" in reply["message"]
    assert runner.put("RESUME", 1)["ok"]
    wait_until(lambda: runner.get("STATE") == 1)  # RUNNING
    runner.put("ABORT", 1)
    assert finished(runner, job_id)["state"] == "ABORTED"


@pytest.mark.parametrize("blackbox", [False, True], ids=["traced", "blackbox"])
def test_GIVEN_cpu_bound_job_WHEN_paused_immediately_THEN_process_really_stops(runner, blackbox):
    script = PID_LINE + "x = 0\nwhile True:\n    x += 1\n"
    (job_id,) = runner.add({"script": script, "blackbox": blackbox})
    pid = job_pid(runner)
    if blackbox:
        reply = runner.put("PAUSE", 1)
        assert not reply["ok"] and "black-box" in reply["message"].lower()
    runner.put("PAUSE", 2)
    wait_until(lambda: runner.get("STATE") == 3)
    # SIGSTOP takes effect when the process is next scheduled (later on a loaded machine)
    wait_until(lambda: psutil.Process(pid).status() == psutil.STATUS_STOPPED, timeout=5)
    before = cpu_seconds(pid)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        assert psutil.Process(pid).status() == psutil.STATUS_STOPPED
    assert cpu_seconds(pid) == before  # stopped all along: not a tick of CPU
    runner.put("RESUME", 1)
    wait_until(lambda: cpu_seconds(pid) - before > 0.1)
    runner.put("ABORT", 2)
    job = finished(runner, job_id)
    assert job["state"] == "ABORTED"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_GIVEN_job_with_finally_WHEN_soft_aborted_THEN_finally_runs_and_queue_held(runner, ioc):
    script = (
        "import time\ntry:\n    while True:\n        time.sleep(0.05)\n"
        "finally:\n    print('cleaned up', flush=True)\n"
    )
    (job_id,) = runner.add({"script": script})
    runner.add("set_ei(25)")
    wait_until(lambda: runner.get("CURRENT:LINE") == 4)
    assert runner.put("ABORT", 1)["ok"]
    job = finished(runner, job_id)
    assert job["state"] == "ABORTED"
    log = (ioc.data_dir / "logs" / f"job-{job_id}.log").read_text()
    assert "cleaned up" in log
    assert runner.get("QUEUE:HOLD") == 1 and runner.get("QUEUE:COUNT") == 1


def test_GIVEN_job_ignoring_sigterm_with_children_WHEN_killed_THEN_no_process_left(runner):
    script = PID_LINE + (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print('CHILD', child.pid, flush=True)\n"
        "while True:\n    time.sleep(0.05)\n"
    )
    (job_id,) = runner.add({"script": script, "blackbox": True})
    pid = job_pid(runner)
    child = int(
        wait_until(lambda: re.search(r"CHILD (\d+)", runner.get_text("CURRENT:OUTPUT")), 10).group(
            1
        )
    )
    runner.put("ABORT", 2)
    assert finished(runner, job_id)["state"] == "ABORTED"
    for gone in (pid, child):
        wait_until(
            lambda g=gone: (
                not psutil.pid_exists(g) or psutil.Process(g).status() == psutil.STATUS_ZOMBIE
            ),
            timeout=5,
        )


def test_GIVEN_running_job_WHEN_killed_from_outside_THEN_failed_with_signal(runner):
    (job_id,) = runner.add({"script": PID_LINE + "import time\ntime.sleep(600)\n"})
    pid = job_pid(runner)
    os.kill(pid, signal.SIGKILL)
    job = finished(runner, job_id)  # (how soon: bench/bench_runner.py)
    assert job["state"] == "FAILED"
    assert job["error"]["type"] == "ProcessExit" and "signal 9" in job["error"]["message"]
    assert runner.get("STATE:CODE") == -2


def test_GIVEN_on_error_modes_WHEN_job_fails_THEN_queue_holds_or_continues(runner):
    runner.pv("QUEUE:ON_ERROR").put(1, wait=True)  # CONTINUE
    bad, good = runner.add([{"script": "x = 1\n1 / 0\n"}, {"script": "print('next')"}])
    assert finished(runner, good)["state"] == "DONE"
    failed = next(j for j in runner.get_json("HISTORY") if j["id"] == bad)
    assert failed["state"] == "FAILED" and failed["error"]["line"] == 2
    assert failed["error"]["type"] == "ZeroDivisionError"
    assert "Traceback" in failed["error"]["traceback"]
    runner.pv("QUEUE:ON_ERROR").put(0, wait=True)  # HOLD
    bad, waiting = runner.add([{"script": "raise RuntimeError('boom')"}, {"script": "pass"}])
    job = finished(runner, bad)
    assert job["state"] == "FAILED" and runner.get("LAST:STATE") == 1
    assert runner.get_text("LAST:ERROR:TEXT") == "RuntimeError: boom"
    wait_until(lambda: runner.get("QUEUE:HOLD") == 1)
    assert [j["id"] for j in runner.queue()] == [waiting]


def test_GIVEN_aborted_job_WHEN_rerun_THEN_runs_again_from_the_beginning(runner, ioc):
    script = "import scriptserver\nprint('start', flush=True)\nscriptserver.sleep(30)\n"
    (job_id,) = runner.add({"script": script})
    wait_until(lambda: runner.get("CURRENT:LINE") == 3)
    runner.put("ABORT", 1)
    assert finished(runner, job_id)["state"] == "ABORTED"
    reply = runner.put(
        "QUEUE:RERUN", {"id": job_id, "script": script.replace("sleep(30)", "sleep(0.1)")}
    )
    (again,) = reply["job_ids"]
    runner.put("QUEUE:HOLD", 0)
    job = finished(runner, again)
    assert job["state"] == "DONE" and job["rerun_of"] == job_id
    assert (ioc.data_dir / "logs" / f"job-{again}.log").read_text().startswith("start")


def test_GIVEN_running_job_WHEN_current_skipped_or_stopped_THEN_queue_follows(runner):
    long = {"script": "import scriptserver\nscriptserver.sleep(30)\n"}
    first, second, third = runner.add([long, long, long])
    wait_until(lambda: runner.get("CURRENT:ID") == first)
    runner.put("QUEUE:SKIP", str(first))
    wait_until(lambda: runner.get("CURRENT:ID") == second)
    assert next(j for j in runner.get_json("HISTORY") if j["id"] == first)["state"] == "SKIPPED"
    runner.put("STOP", 1)
    assert finished(runner, second)["state"] == "ABORTED"
    assert runner.queue() == [] and runner.get("QUEUE:HOLD") == 0
    assert third not in [j["id"] for j in runner.get_json("HISTORY")]


def test_GIVEN_caproto_client_WHEN_job_runs_THEN_live_status_readable(ioc, caproto_context):
    c = CaprotoClient(caproto_context, ioc.prefix)
    c.write("QUEUE:HOLD", 0)
    c.write_text(
        "QUEUE:ADD",
        '{"script": "import scriptserver\\nscriptserver.progress(40, '
        "'warming up')\\nscriptserver.sleep(30)\\n\"}",
    )
    wait_until(lambda: c.get("CURRENT:PROGRESS") == 40.0)
    assert c.get_json("CURRENT")["message"] == "warming up"
    assert "scriptserver.sleep(30)" in c.get_text("CURRENT:SCRIPT")
    wait_until(lambda: c.get("CURRENT:ELAPSED") > 0.5)
    c.write("ABORT", 2)
    wait_until(lambda: c.get("CURRENT:ID") == 0)


def test_GIVEN_job_running_WHEN_ioc_sigkilled_and_restarted_THEN_job_finishes_recorded(start_ioc):
    ioc = start_ioc()
    client = ScriptServerClient(ioc.prefix)
    script = (
        "import scriptserver\nfor i in range(30):\n    print('tick', i, flush=True)\n"
        "    scriptserver.sleep(0.1)\nprint('the end', flush=True)\n"
    )
    (job_id,) = client.add({"script": script})
    wait_until(lambda: "tick 3" in client.get_text("CURRENT:OUTPUT"))
    ioc.stop(kill=True)
    ioc.start(new_prefix=True)
    client = ScriptServerClient(ioc.prefix)
    job = finished(client, job_id, timeout=30)
    assert job["state"] == "DONE"
    log = (ioc.data_dir / "logs" / f"job-{job_id}.log").read_text()
    assert [f"tick {i}" for i in range(30)] == re.findall(r"tick \d+", log)
    assert "the end" in log


def test_GIVEN_job_printing_100MB_WHEN_run_THEN_ioc_memory_bounded_and_log_complete(runner, ioc):
    rss_before = psutil.Process(ioc.process.pid).memory_info().rss
    script = (
        "import sys\nline = 'x' * 99 + '\\n'\n"
        "for i in range(1_000_000):\n    sys.stdout.write(line)\n"
    )
    (job_id,) = runner.add({"script": script, "blackbox": True})
    peak = [rss_before]

    def sample():
        while runner_done.is_set() is False:
            peak.append(psutil.Process(ioc.process.pid).memory_info().rss)
            time.sleep(0.05)

    runner_done = threading.Event()
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        assert finished(runner, job_id, timeout=120)["state"] == "DONE"
    finally:
        runner_done.set()
        sampler.join()
    assert (ioc.data_dir / "logs" / f"job-{job_id}.log").stat().st_size == 100_000_000
    assert max(peak) - rss_before < 50_000_000


def test_GIVEN_script_definition_WHEN_called_from_script_and_as_command_THEN_runs(runner):
    pytest.importorskip("genie_python")
    script = "do_sans(sample='water', trans_seconds='0.1', sans_seconds=0.2)\n"
    (scripted,) = runner.add({"script": script})
    assert finished(runner, scripted, timeout=60)["state"] == "DONE", last(runner)
    (command,) = runner.add("do_sans(sample='D2O', trans_seconds=0.1, sans_seconds=0.1)")
    job = finished(runner, command, timeout=60)
    assert job["state"] == "DONE", job
    assert job["args"]["sample"] == "D2O" and job["args"]["position"] == "1"
