"""The stop button works on a full store (issue #21): safety actions are never refused.

With the test-only hook ``SCRIPTSERVER_TEST_STORE_FULL=<flag file>`` every store commit
fails as on a full disk. A running job is aborted all the same: `ABORT` is accepted, the job
ends `ABORTED`, `STATUS.store_error` and `LAST_ERROR` say the database cannot be written,
and the abort's records (its log line, the job's end, the queue held after it) are kept in
memory and written once space returns. If the IOC is killed before that, the job's end is
not lost: the restarted server reads it from the job's result file.

Before: the ABORT was refused ("the database cannot be written ... nothing was changed")
and the job ran on.
"""

from __future__ import annotations

import json
import sqlite3
import time

from campaign import Probe, report
from conftest import wait_until

from scriptserver_ioc import fault_hooks

FOREVER = "import time\nprint('running', flush=True)\nwhile True:\n    time.sleep(0.02)\n"


def test_GIVEN_store_full_and_running_job_WHEN_ABORT_THEN_aborted_kept_and_stored_later(
    start_ioc, caproto_context, tmp_path, monkeypatch
):
    full = tmp_path / "store-full"
    monkeypatch.setenv(fault_hooks.STORE_FULL, str(full))
    ioc = start_ioc()
    probe = Probe(caproto_context, ioc.prefix)
    database = ioc.data_dir / "scriptserver.sqlite"

    # 1. ABORT on a full store: carried out, reported, stored once space returns
    first = _running_job(probe)
    full.touch()
    reply, took = _abort(probe)
    assert reply["ok"] and "not recorded yet" in reply["message"], reply
    assert reply["job_ids"] == [first]
    wait_until(lambda: probe.value("LAST:ID") == first, timeout=30)
    assert probe.json("HISTORY")[0]["state"] == "ABORTED"
    assert probe.value("CURRENT:ID") == 0 and probe.value("QUEUE:HOLD") == 1
    assert "cannot be written" in probe.json("STATUS")["store_error"]
    assert "cannot be written" in probe.text("LAST_ERROR:TEXT")
    assert _row(database, first)[0] == "RUNNING"  # nothing written yet, nothing half-written
    full.unlink()
    wait_until(lambda: probe.json("STATUS")["store_error"] is None, timeout=30)
    state, record = _row(database, first)
    assert (state, record["state"]) == ("ABORTED", "ABORTED")
    assert "aborted by" in record["error"]["message"]
    assert any(f"aborting job {first}" in line for line in _log(database))
    assert _setting(database, "hold") is True  # the queue held after the abort, stored

    # 2. ABORT on a full store, then the IOC is killed before space returns
    probe.pv("QUEUE:HOLD").write([0], wait=True, timeout=10)
    second = _running_job(probe)
    full.touch()
    reply, took_second = _abort(probe)
    assert reply["ok"], reply
    wait_until(lambda: probe.value("LAST:ID") == second, timeout=30)
    assert probe.json("HISTORY")[0]["state"] == "ABORTED"
    ioc.stop(kill=True)
    assert _row(database, second)[0] == "RUNNING"
    full.unlink()
    ioc.start(new_prefix=True)
    probe = Probe(caproto_context, ioc.prefix)
    wait_until(lambda: probe.value("LAST:ID") == second, timeout=30)
    history = probe.json("HISTORY")
    assert [(job["id"], job["state"]) for job in history[:2]] == [
        (second, "ABORTED"),
        (first, "ABORTED"),
    ]
    assert _row(database, second)[0] == "ABORTED"
    report(
        "abort on a full store",
        abort_reply_ms=f"{took * 1000:.0f}/{took_second * 1000:.0f}",
        first="ABORTED, stored after space returned",
        second="ABORTED from its result file after SIGKILL and restart",
    )


def _running_job(probe: Probe) -> int:
    seq = probe.last_seq()
    spec = json.dumps({"script": FOREVER, "name": "forever"}).encode() + b"\0"
    probe.pv("QUEUE:ADD").write(spec, wait=True, timeout=30)
    (reply,) = probe.replies_after(seq, wait_for=1)
    (job_id,) = reply["job_ids"]
    wait_until(lambda: probe.value("CURRENT:ID") == job_id, timeout=30)
    wait_until(lambda: "running" in probe.text("CURRENT:OUTPUT"), timeout=30)
    return job_id


def _abort(probe: Probe) -> tuple[dict, float]:
    """Write ABORT 1 (soft) with a put callback: the reply and the put's round trip (s)."""
    seq = probe.last_seq()
    start = time.monotonic()
    probe.pv("ABORT").write([1], wait=True, timeout=10)
    took = time.monotonic() - start
    (reply,) = probe.replies_after(seq, wait_for=1)
    return reply, took


def _row(database, job_id):
    with sqlite3.connect(database) as conn:
        state, record = conn.execute(
            "SELECT state, record FROM jobs WHERE id=?", (job_id,)
        ).fetchone()
    return state, json.loads(record)


def _log(database) -> list[str]:
    with sqlite3.connect(database) as conn:
        return [line for (line,) in conn.execute("SELECT line FROM log ORDER BY seq")]


def _setting(database, key):
    with sqlite3.connect(database) as conn:
        (value,) = conn.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
    return json.loads(value)
