"""Job control over Channel Access, exactly: soft abort of a blocked job, SKIP and STOP,
deferred pause carried to the next job, abort records, LAST:STATE and QUEUE:FINISH."""

from __future__ import annotations

import getpass

import pytest
from conftest import wait_until

STATE_PAUSED = 3


def finished(client, job_id: int, timeout: float = 20.0) -> dict:
    wait_until(lambda: client.get("LAST:ID") == job_id, timeout=timeout)
    return client.get_json("HISTORY")[0]


def blocked_with_cleanup(tmp_path) -> tuple[str, object]:
    """A job blocked in one long time.sleep, with a `with` exit and a two-step finally."""
    marker = tmp_path / "cleanup.txt"
    script = (
        "import time\n"
        "class Shutter:\n"
        "    def __enter__(self):\n"
        "        return self\n"
        "    def __exit__(self, *exc):\n"
        f"        open({str(marker)!r}, 'a').write('exit ')\n"
        "print('blocking', flush=True)\n"
        "try:\n"
        "    with Shutter():\n"
        "        time.sleep(60)\n"
        "finally:\n"
        "    time.sleep(0.2)\n"
        f"    open({str(marker)!r}, 'a').write('finally-end')\n"
    )
    return script, marker


@pytest.mark.parametrize("how", ["ABORT", "QUEUE:SKIP", "STOP"])
def test_GIVEN_job_blocked_in_sleep_WHEN_soft_ended_THEN_cleanup_runs_to_the_end(
    runner, ioc, tmp_path, how
):
    script, marker = blocked_with_cleanup(tmp_path)
    (job_id,) = runner.add({"script": script})
    wait_until(lambda: "blocking" in runner.get_text("CURRENT:OUTPUT"))
    value = {"ABORT": 1, "QUEUE:SKIP": str(job_id), "STOP": 1}[how]
    assert runner.put(how, value)["ok"]
    # the default abort grace is 10 s: a job ended within 6 s was interrupted, not terminated
    job = finished(runner, job_id, timeout=6.0)
    assert job["state"] == ("SKIPPED" if how == "QUEUE:SKIP" else "ABORTED")
    assert marker.read_text() == "exit finally-end"
    assert "soft abort: terminating" not in ioc.log()
    assert job["error"]["traceback"].count("JobAborted") <= 1


def test_GIVEN_deferred_pause_WHEN_job_ends_before_a_pause_point_THEN_next_job_starts_paused(
    runner,
):
    runner.put("QUEUE:HOLD", 1)
    first, second = runner.add(
        [{"script": "import time\ntime.sleep(1.0)\n"}, {"script": "x = 1\ny = x + 1\n"}]
    )
    runner.put("QUEUE:HOLD", 0)
    wait_until(lambda: runner.get("CURRENT:ID") == first and runner.get("CURRENT:LINE") == 2)
    assert runner.put("PAUSE", 1)["ok"]
    wait_until(lambda: runner.get("CURRENT:ID") == second, timeout=10)
    wait_until(lambda: runner.get("STATE") == STATE_PAUSED)
    current = runner.get_json("CURRENT")
    assert current["state"] == "PAUSED" and current["line"] == 1
    assert "deferred pause" in runner.get_text("LOG")
    assert runner.put("RESUME", 1)["ok"]
    assert finished(runner, second)["state"] == "DONE"


def test_GIVEN_fresh_server_THEN_LAST_STATE_is_NONE(runner):
    assert runner.get("LAST:ID") == 0
    assert runner.pv("LAST:STATE").get(as_string=True, use_monitor=False) == "NONE"


def test_GIVEN_held_idle_queue_with_jobs_THEN_QUEUE_FINISH_is_dash(client):
    client.add({"script": "x = 1"})
    wait_until(lambda: client.get("QUEUE:COUNT") == 1)
    assert client.get("QUEUE:FINISH") == "-"


def test_GIVEN_running_job_WHEN_skipped_THEN_error_says_skipped_by_whom(runner):
    (job_id,) = runner.add({"script": "import time\nfor i in range(600):\n    time.sleep(0.05)\n"})
    wait_until(lambda: runner.get("CURRENT:LINE") == 3)
    assert runner.put("QUEUE:SKIP", str(job_id))["ok"]
    job = finished(runner, job_id)
    assert job["state"] == "SKIPPED"
    assert "abort" not in job["error"]["message"].lower()
    assert "skipped by " + getpass.getuser() in job["error"]["message"]
    assert "abort" not in runner.get_text("LAST:ERROR:TEXT").lower()


def test_GIVEN_blackbox_job_WHEN_aborted_three_times_THEN_records_are_identical(runner):
    script = "import time\nx = 0\nwhile True:\n    x += 1\n    time.sleep(0.001)\n"
    records = []
    for attempt in range(3):
        (job_id,) = runner.add({"script": script, "blackbox": True})
        wait_until(lambda n=job_id: runner.get("CURRENT:ID") == n)
        wait_until(lambda t=0.05 * attempt: runner.get("CURRENT:ELAPSED") > t)
        assert runner.put("ABORT", 1)["ok"]
        job = finished(runner, job_id)
        records.append((job["state"], job["error"], job["exit_code"]))
        runner.put("QUEUE:HOLD", 0)  # an abort holds the queue
    assert records[0] == records[1] == records[2], records
    state, error, _ = records[0]
    assert state == "ABORTED"
    assert error["message"] == f"aborted by {getpass.getuser()}@" + error["message"].split("@")[1]
    assert "launcher" not in error["traceback"] and "_control" not in error["traceback"]


def test_GIVEN_traced_job_WHEN_aborted_THEN_record_names_line_and_no_internal_frames(runner):
    script = "import scriptserver\nx = 1\nscriptserver.sleep(60)\n"
    (job_id,) = runner.add({"script": script})
    wait_until(lambda: runner.get("CURRENT:LINE") == 3)
    assert runner.put("ABORT", 1)["ok"]
    job = finished(runner, job_id, timeout=6.0)
    assert job["state"] == "ABORTED"
    error = job["error"]
    assert error["line"] == 3 and error["type"] == "JobAborted"
    assert error["message"].startswith(f"aborted by {getpass.getuser()}@")
    assert "at line 3" in error["message"]
    for internal in ("launcher.py", "_control.py", "tracer.py", "scriptserver.py"):
        assert internal not in error["traceback"], error["traceback"]


def test_GIVEN_job_in_busy_C_calls_WHEN_soft_aborted_THEN_finally_still_runs(runner, tmp_path):
    # CPython can skip a `finally:` for an exception raised by a signal handler right after
    # such a call (cpython issue 108214); the abort must reach it at a line instead
    marker = tmp_path / "cleanup.txt"
    script = (
        "print('busy', flush=True)\n"
        "try:\n"
        "    while True: sum(range(3_000_000))\n"
        "finally:\n"
        f"    open({str(marker)!r}, 'w').write('finally-end')\n"
    )
    (job_id,) = runner.add({"script": script})
    wait_until(lambda: "busy" in runner.get_text("CURRENT:OUTPUT"))
    assert runner.put("ABORT", 1)["ok"]
    assert finished(runner, job_id, timeout=6.0)["state"] == "ABORTED"
    assert marker.read_text() == "finally-end"
