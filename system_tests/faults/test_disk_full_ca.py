"""A full disk under a running job (issue #10, defect 6), on a small tmpfs where the OS
lets us mount one (root on Linux); skipped elsewhere.

Before: the end of a job that finished while the disk was full vanished (CURRENT:ID 0,
LAST:ID 0, not in HISTORY) and after a restart it was recorded INTERRUPTED.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time

import pytest
from campaign import Probe, report
from conftest import wait_until

JOB = (
    "import os, time\n"
    "print('waiting', flush=True)\n"
    "while not os.path.exists({go!r}):\n"
    "    time.sleep(0.05)\n"
)


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root on Linux")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(directory) -> int:
    """Write a filler file until the disk is full; returns its size."""
    written = 0
    with open(directory / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
                written += 65536
        except OSError:
            pass
    return written


def test_GIVEN_job_ending_on_full_disk_WHEN_space_returns_THEN_real_end_stored(
    small_disk, start_ioc, caproto_context, tmp_path
):
    ioc = start_ioc(data_dir=small_disk)  # its stderr log goes beside it, off the tmpfs
    probe = Probe(caproto_context, ioc.prefix)
    go = tmp_path / "go"
    seq = probe.last_seq()
    spec = {"script": JOB.format(go=str(go))}
    probe.pv("QUEUE:ADD").write(json.dumps(spec).encode() + b"\0", wait=True, timeout=30)
    (reply,) = probe.replies_after(seq, wait_for=1)
    (job_id,) = reply["job_ids"]
    wait_until(lambda: probe.value("CURRENT:ID") == job_id, timeout=30)
    filler = fill(small_disk)
    go.touch()
    wait_until(lambda: probe.value("LAST:ID") == job_id, timeout=30)
    status = probe.json("STATUS")
    assert status["store_error"] and "cannot be written" in status["store_error"]
    assert "cannot be written" in probe.text("LAST_ERROR:TEXT")
    assert probe.value("CURRENT:ID") == 0
    assert probe.json("HISTORY")[0]["id"] == job_id
    last = probe.json("HISTORY")[0]
    # the job's own log and result file cannot be written either: its script decides
    assert (last["state"], last["exit_code"]) == ("DONE", 0), last
    seq = probe.last_seq()
    probe.pv("QUEUE:ADD").write(b"set_ei(25)\0", wait=True, timeout=30)
    (refused,) = probe.replies_after(seq, wait_for=1)
    assert not refused["ok"] and refused["job_ids"] == [], refused
    assert "cannot be written" in refused["message"]
    (small_disk / "filler").unlink()
    started = time.monotonic()
    wait_until(lambda: probe.json("STATUS")["store_error"] is None, timeout=30)
    recovered_after = time.monotonic() - started
    ioc.stop()
    with sqlite3.connect(small_disk / "scriptserver.sqlite") as conn:
        (record,) = conn.execute("SELECT record FROM jobs WHERE id=?", (job_id,)).fetchone()
        queued = conn.execute("SELECT COUNT(*) FROM jobs WHERE position IS NOT NULL").fetchone()
    stored = json.loads(record)
    assert (stored["state"], stored["exit_code"]) == (last["state"], last["exit_code"])
    assert queued == (0,)
    report(
        "disk full",
        filler_bytes=filler,
        end=last["state"],
        exit_code=last["exit_code"],
        end_stored_after_s=round(recovered_after, 1),
    )
