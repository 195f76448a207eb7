"""The IOC dies between marking a job RUNNING and hearing it started (issue #10, defect 9).

The test-only hook ``SCRIPTSERVER_TEST_DROP_STARTED=1`` (scriptserver_ioc/fault_hooks.py)
makes the runner never report ``started``, so the store keeps only the launch record (no
pid) while the job runs: the window, held open as long as the test needs. The IOC is then
SIGKILLed and restarted without the hook.

Before: the restarted server recorded the job INTERRUPTED although its process was alive
(it went on running, orphaned). Now the launch handle file finds it and it is adopted.
"""

from __future__ import annotations

import json
import sqlite3
import time

from campaign import Probe, report
from conftest import wait_until

from scriptserver_ioc import fault_hooks

JOB = (
    "import os, time\n"
    "print('running', flush=True)\n"
    "while not os.path.exists({go!r}):\n"
    "    time.sleep(0.02)\n"
    "print('finished after the restart', flush=True)\n"
)


def test_GIVEN_ioc_killed_before_started_stored_WHEN_restarted_THEN_live_job_adopted(
    start_ioc, caproto_context, tmp_path, monkeypatch
):
    monkeypatch.setenv(fault_hooks.DROP_STARTED, "1")
    ioc = start_ioc()
    monkeypatch.delenv(fault_hooks.DROP_STARTED)  # the restart below runs without it
    probe = Probe(caproto_context, ioc.prefix)
    go = tmp_path / "go"
    probe.pv("QUEUE:HOLD").write([0], wait=True, timeout=10)
    seq = probe.last_seq()
    spec = {"script": JOB.format(go=str(go)), "request_id": "window"}
    probe.pv("QUEUE:ADD").write(json.dumps(spec).encode() + b"\0", wait=True, timeout=30)
    (reply,) = probe.replies_after(seq, wait_for=1)
    (job_id,) = reply["job_ids"]
    log = ioc.data_dir / "logs" / f"job-{job_id}.log"
    wait_until(lambda: log.exists() and "running" in log.read_text(), timeout=30)
    with sqlite3.connect(ioc.data_dir / "scriptserver.sqlite") as conn:  # in the window
        (handle,) = conn.execute("SELECT handle FROM jobs WHERE id=?", (job_id,)).fetchone()
    assert "pid" not in json.loads(handle), handle
    pid = json.loads((log.parent / f"{log.name}.handle.json").read_text())["pid"]

    ioc.stop(kill=True)
    restarted = time.monotonic()
    ioc.start(new_prefix=True)
    probe = Probe(caproto_context, ioc.prefix)
    wait_until(lambda: probe.value("CURRENT:ID") == job_id, timeout=30)
    adopted_after = time.monotonic() - restarted
    assert probe.json("CURRENT")["state"] == "RUNNING"
    assert "reattaching to job" in probe.text("LOG")
    go.touch()
    wait_until(lambda: probe.value("LAST:ID") == job_id, timeout=30)
    last = probe.json("HISTORY")[0]
    assert (last["id"], last["state"], last["exit_code"]) == (job_id, "DONE", 0), last
    assert log.read_text().splitlines()[-1] == "finished after the restart"
    report("launch window", job_pid=pid, adopted_s_after_restart=round(adopted_after, 1))
