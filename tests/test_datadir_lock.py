"""One server per data directory: the lock file."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scriptserver_ioc.datadir_lock import LOCK_FILE, DataDirInUse, DataDirLock

HOLD_LOCK = (
    "import sys; from pathlib import Path\n"
    "from scriptserver_ioc.datadir_lock import DataDirLock\n"
    "DataDirLock.acquire(Path(sys.argv[1]), prefix='OTHER:', port=5099)\n"
    "print('locked', flush=True); sys.stdin.read()\n"
)


def test_GIVEN_held_lock_WHEN_acquired_again_THEN_refused_naming_holder(tmp_path):
    held = DataDirLock.acquire(tmp_path, prefix="P1:", port=5064)
    with pytest.raises(DataDirInUse) as caught:
        DataDirLock.acquire(tmp_path, prefix="P2:")
    message = str(caught.value)
    assert str(tmp_path) in message and "prefix P1:" in message and "port 5064" in message
    assert json.loads((tmp_path / LOCK_FILE).read_text())["prefix"] == "P1:"
    held.release()
    assert not held.held
    again = DataDirLock.acquire(tmp_path, prefix="P3:")
    assert json.loads((tmp_path / LOCK_FILE).read_text())["prefix"] == "P3:"
    again.release()
    again.release()  # twice is harmless


def test_GIVEN_holder_process_killed_WHEN_acquired_THEN_the_os_released_it(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DataDirInUse, match=f"pid {holder.pid} .*prefix OTHER:"):
            DataDirLock.acquire(tmp_path)
    finally:
        holder.kill()
        holder.wait(10)
    DataDirLock.acquire(tmp_path, prefix="NEXT:").release()
