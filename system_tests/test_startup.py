"""Starting the IOC: options, clear one-line errors, the start script, the PV reference."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from conftest import ROOT

from scriptserver_ioc.ioc import docs


def run_ioc(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    env = dict(os.environ, EPICS_CAS_INTF_ADDR_LIST="127.0.0.1")
    return subprocess.run(
        [sys.executable, "-m", "scriptserver_ioc", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_GIVEN_help_WHEN_asked_THEN_every_option_documented():
    result = run_ioc("--help")
    assert result.returncode == 0
    for option in (
        "--prefix",
        "--commands",
        "--data-dir",
        "--port",
        "--acf",
        "--job-python",
        "--prelude",
        "--no-scripts",
        "--scripts-dir",
        "--log-level",
    ):
        assert option in result.stdout


def test_GIVEN_bad_options_WHEN_started_THEN_one_line_error_and_nonzero_exit(tmp_path):
    cases = [
        (["--port", "70000"], "outside 1..65535"),
        (["--commands", str(tmp_path / "missing")], "does not exist"),
        (["--acf", str(tmp_path / "none.acf")], "does not exist"),
        (["--job-python", "/no/such/python"], "cannot be run"),
        (["--log-level", "LOUD"], "invalid choice"),
    ]
    for args, words in cases:
        result = run_ioc("--data-dir", str(tmp_path / "d"), *args)
        assert result.returncode != 0, args
        assert words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_GIVEN_unusable_data_dir_WHEN_started_THEN_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_ioc("--data-dir", str(blocker / "data"), "--port", "1")
    assert result.returncode == 1
    assert result.stderr.startswith("scriptserver-ioc: error: cannot create")
    assert len(result.stderr.strip().splitlines()) == 1


def test_GIVEN_corrupt_database_WHEN_started_THEN_clear_error(tmp_path):
    data = tmp_path / "bad"
    data.mkdir()
    (data / "scriptserver.sqlite").write_bytes(b"this is not a database" * 100)
    result = run_ioc("--data-dir", str(data), "--port", str(_free_port()))
    assert result.returncode == 1
    assert "cannot open the database" in result.stderr and "Traceback" not in result.stderr


def test_GIVEN_port_in_use_WHEN_started_THEN_clear_error(tmp_path, ioc):
    result = run_ioc("--data-dir", str(tmp_path / "d2"), "--port", str(ioc.port))
    assert result.returncode == 1
    assert f"port {ioc.port} is in use" in result.stderr


def test_GIVEN_start_script_WHEN_asked_for_help_THEN_it_runs_the_ioc():
    if sys.platform == "win32":
        return
    result = subprocess.run(
        ["./start_ioc.sh", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert "--job-python" in result.stdout


def test_GIVEN_pv_table_WHEN_reference_generated_THEN_docs_are_current():
    assert docs.REFERENCE.read_text() == docs.render(), (
        "docs/pv-reference.md is stale: run python -m scriptserver_ioc.ioc.docs"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
