"""The `scriptserver` console tool against a real IOC."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def cli(ioc, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scriptserver_ioc.client.cli", "--prefix", ioc.prefix, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_GIVEN_ioc_WHEN_queue_driven_from_console_THEN_changes_and_errors_shown(ioc, tmp_path):
    assert cli(ioc, "hold").returncode == 0
    result = cli(ioc, "add", "set_ei(25)", "--name", "first")
    assert result.returncode == 0 and "queued job" in result.stdout
    script = tmp_path / "scan.py"
    script.write_text("for i in range(3):\n    print(i)\n")
    assert cli(ioc, "add", "--script", str(script)).returncode == 0
    table = cli(ioc, "queue").stdout
    assert "first" in table and "script: for i in range(3):" in table
    assert cli(ioc, "move", "2", "--to", "top").returncode == 0
    status = cli(ioc, "status").stdout
    assert "queue 2 jobs" in status and "HELD" in status
    bad = cli(ioc, "remove", "99")
    assert bad.returncode == 1 and "job 99 is not queued" in bad.stderr
    assert "set_ei" in cli(ioc, "commands").stdout
    assert cli(ioc, "clear").returncode == 0
    assert "queued job 1" in cli(ioc, "log").stdout
