"""Stopping the IOC cleanly, and one server per data directory."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import psutil
import pytest
from conftest import ROOT, settle_preflights, wait_until

from scriptserver_ioc.client.client import ScriptServerClient

LONG_JOB = (
    "import os, scriptserver\nprint('PID', os.getpid(), flush=True)\n"
    "for i in range(600):\n    scriptserver.sleep(0.1)\n"
)


def _files(directory) -> dict[str, tuple[int, int]]:
    """Every file under `directory` with its size and modification time."""
    found = {}
    for path in directory.rglob("*"):
        if path.is_file():
            stat = path.stat()
            found[str(path.relative_to(directory))] = (stat.st_size, stat.st_mtime_ns)
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_GIVEN_running_job_WHEN_ioc_signalled_THEN_exit_0_helpers_stopped_job_adopted(
    start_ioc, sig
):
    ioc = start_ioc()
    client = ScriptServerClient(ioc.prefix)
    client.put("QUEUE:HOLD", 0)
    (job_id,) = client.add({"script": LONG_JOB})
    match = wait_until(lambda: re.search(r"PID (\d+)", client.get_text("CURRENT:OUTPUT")), 15)
    job_pid = int(match.group(1))
    helpers = [
        child
        for child in psutil.Process(ioc.process.pid).children(recursive=True)
        if child.pid != job_pid and job_pid not in {p.pid for p in child.children(True)}
    ]
    assert helpers, "expected a warm spare and a companion checker"
    assert ioc.stop(sig=sig) == 0  # also checks: no traceback while stopping
    assert "stopped" in ioc.log().splitlines()[-1]
    gone, alive = psutil.wait_procs(helpers, timeout=10)
    assert not alive, f"helper processes left running: {[p.cmdline() for p in alive]}"
    assert psutil.pid_exists(job_pid), "the running job must outlive the IOC"
    lock_text = (ioc.data_dir / "server.lock").read_text()
    assert lock_text == "", "the lock record is cleared at a clean stop"

    ioc.start(new_prefix=True)
    client = ScriptServerClient(ioc.prefix)
    assert wait_until(lambda: client.get("CURRENT:ID") == job_id, 15)
    client.put("ABORT", 2)
    wait_until(lambda: client.get("LAST:ID") == job_id, 15)
    assert not psutil.pid_exists(job_pid) or psutil.Process(job_pid).status() == "zombie"


def test_GIVEN_running_ioc_WHEN_second_started_on_same_data_dir_THEN_refused_first_untouched(
    start_ioc, tmp_path
):
    first = start_ioc()
    client = ScriptServerClient(first.prefix)
    client.put("QUEUE:HOLD", 1)
    (job_id,) = client.add("get_ei()")
    settle_preflights(client)  # its verdict is written to the database in the background
    before = _files(first.data_dir)
    record = json.loads((first.data_dir / "server.lock").read_text())
    assert record["pid"] == first.process.pid and record["prefix"] == first.prefix

    env = dict(os.environ, EPICS_CAS_INTF_ADDR_LIST="127.0.0.1")
    result = subprocess.run(
        [sys.executable, "-m", "scriptserver_ioc", "--data-dir", str(first.data_dir)]
        + ["--prefix", "SECOND:", "--port", str(_free_tcp_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scriptserver-ioc: error: ")
    assert "in use by another script server" in lines[0]
    assert f"pid {first.process.pid}" in lines[0] and first.prefix in lines[0]
    assert _files(first.data_dir) == before
    assert first.process.poll() is None
    assert [job["id"] for job in client.get_json("QUEUE")] == [job_id]


def _free_tcp_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
