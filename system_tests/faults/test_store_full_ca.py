"""Store writes fail while a job ends (issue #10, defect 6), on every OS.

The test-only hook ``SCRIPTSERVER_TEST_STORE_FULL=<flag file>`` (scriptserver_ioc/
fault_hooks.py) makes every store transaction fail at its commit with SQLite's own
``database or disk is full`` error while the flag file exists, so this runs wherever CI
runs; `test_disk_full_ca.py` fills a real tmpfs where the OS lets it.

Two ends on a full store: one stored by the retry once space returns, one recovered from
the job's result file after the IOC is SIGKILLed while the store is still full. The first
job also fills its own disk (a file-size limit of 0 for itself, on POSIX), so its log and
result file cannot be written either: it must still end DONE, with the loss reported.

Before: the end of such a job vanished (CURRENT:ID 0, LAST:ID 0, not in HISTORY), after a
restart it was INTERRUPTED, rejected adds listed job ids, and a job whose log could not be
written ended FAILED.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time

from campaign import Probe, report
from conftest import wait_until

from scriptserver_ioc import fault_hooks

JOB = (
    "import os, time\n"
    "print('waiting', flush=True)\n"
    "while not os.path.exists({go!r}):\n"
    "    time.sleep(0.02)\n"
    "if {own_disk_full!r}:\n"
    "    import resource  # its own disk full too: no more log, no result file\n"
    "    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)\n"
    "    resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))\n"
    "print('after the disk filled ' * 100, flush=True)\n"
)


def test_GIVEN_store_full_when_jobs_end_WHEN_space_returns_or_restart_THEN_real_ends_stored(
    start_ioc, caproto_context, tmp_path, monkeypatch
):
    full = tmp_path / "store-full"
    monkeypatch.setenv(fault_hooks.STORE_FULL, str(full))
    ioc = start_ioc()
    probe = Probe(caproto_context, ioc.prefix)
    probe.pv("QUEUE:HOLD").write([0], wait=True, timeout=10)
    database = ioc.data_dir / "scriptserver.sqlite"
    own_disk_full = os.name == "posix"

    # 1. the end is kept in memory, reported, and stored once space returns
    first, go = _add(probe, tmp_path / "go1", own_disk_full)
    wait_until(lambda: probe.value("CURRENT:ID") == first, timeout=30)
    full.touch()
    go.touch()
    wait_until(lambda: probe.value("LAST:ID") == first, timeout=30)
    last = probe.json("HISTORY")[0]
    assert (last["id"], last["state"], last["exit_code"]) == (first, "DONE", 0), last
    assert probe.value("CURRENT:ID") == 0
    assert "cannot be written" in probe.json("STATUS")["store_error"]
    assert "cannot be written" in probe.text("LAST_ERROR:TEXT")
    seq = probe.last_seq()
    probe.pv("QUEUE:ADD").write(b'{"call": "set_ei(25)", "request_id": "r"}\0', wait=True)
    (refused,) = probe.replies_after(seq, wait_for=1)
    assert (refused["ok"], refused["job_ids"], refused["request_id"]) == (False, [], "r")
    assert "cannot be written" in refused["message"], refused
    assert _row(database, first)[:2] == ("RUNNING", None)  # the launch record, whole
    full.unlink()
    space_back = time.monotonic()
    wait_until(lambda: probe.json("STATUS")["store_error"] is None, timeout=30)
    stored_after = time.monotonic() - space_back
    state, seq_no, record = _row(database, first)
    assert (state, record["state"], record["exit_code"]) == ("DONE", "DONE", 0)
    assert seq_no is not None
    assert probe.value("QUEUE:COUNT") == 0  # the refused add left nothing
    if own_disk_full:
        assert "bytes of output were not written" in probe.text("LOG")

    # 2. the IOC dies while the store is full: the result file gives the real end
    second, go = _add(probe, tmp_path / "go2", False)
    wait_until(lambda: probe.value("CURRENT:ID") == second, timeout=30)
    full.touch()
    go.touch()
    wait_until(lambda: probe.value("LAST:ID") == second, timeout=30)
    assert probe.json("HISTORY")[0]["state"] == "DONE"
    ioc.stop(kill=True)
    assert _row(database, second)[0] == "RUNNING"
    full.unlink()
    ioc.start(new_prefix=True)
    probe = Probe(caproto_context, ioc.prefix)
    wait_until(lambda: probe.value("LAST:ID") == second, timeout=30)
    last = probe.json("HISTORY")[0]
    assert (last["id"], last["state"], last["exit_code"]) == (second, "DONE", 0), last
    assert [job["id"] for job in probe.json("HISTORY")[:2]] == [second, first]
    assert _row(database, second)[0] == "DONE"
    report(
        "store full (injected)",
        first_end=f"DONE kept, stored {stored_after:.1f} s after space returned",
        second_end="DONE from its result file after SIGKILL and restart",
        own_disk_full=own_disk_full,
    )


def _add(probe, go, own_disk_full):
    seq = probe.last_seq()
    spec = {"script": JOB.format(go=str(go), own_disk_full=own_disk_full)}
    probe.pv("QUEUE:ADD").write(json.dumps(spec).encode() + b"\0", wait=True, timeout=30)
    (reply,) = probe.replies_after(seq, wait_for=1)
    (job_id,) = reply["job_ids"]
    return job_id, go


def _row(database, job_id):
    with sqlite3.connect(database) as conn:
        state, seq, record = conn.execute(
            "SELECT state, finished_seq, record FROM jobs WHERE id=?", (job_id,)
        ).fetchone()
    return state, seq, json.loads(record)
