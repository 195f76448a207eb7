"""`start_ioc.sh`: the demo commands only when the user names none."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import conftest
import pytest
from conftest import ROOT

from scriptserver_ioc.client import ScriptServerClient

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="start_ioc.sh is for POSIX")

ONE_COMMAND = '''def only_here(x: int) -> None:
    """The one command of this directory.

    Args:
        x: a number.
    """
'''


def start_script(tmp_path, args: list[str], env: dict[str, str] | None = None):
    """Run start_ioc.sh on a free port; the process and its client once ready."""
    port = next(conftest._port_cycle)
    prefix = f"SSS{os.getpid()}N{port}:"
    data = tmp_path / f"data{port}"
    full_env = {**os.environ, "EPICS_CA_ADDR_LIST": f"127.0.0.1:{port}", **(env or {})}
    process = subprocess.Popen(
        [str(ROOT / "start_ioc.sh"), "--port", str(port), "--prefix", prefix]
        + ["--data-dir", str(data), *args],
        cwd=tmp_path,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen.append(line)
        if "ready" in line or (not line and process.poll() is not None):
            break
    assert "ready" in seen[-1], "".join(seen)
    return process, ScriptServerClient(prefix)


def stop(process) -> None:
    process.terminate()
    process.wait(15)
    process.stdout.close()


@pytest.mark.parametrize("how", ["option", "environment"])
def test_GIVEN_own_commands_WHEN_started_by_script_THEN_only_those_served(tmp_path, how):
    commands = tmp_path / "mine"
    commands.mkdir()
    (commands / "mine.py").write_text(ONE_COMMAND)
    if how == "option":
        process, client = start_script(tmp_path, ["--commands", str(commands)])
    else:
        env = {"SCRIPTSERVER_COMMANDS": str(commands)}
        process, client = start_script(tmp_path, [], env)
    try:
        assert [c["name"] for c in client.commands()] == ["only_here"]
    finally:
        stop(process)


def test_GIVEN_no_commands_WHEN_started_by_script_THEN_demo_commands_served(tmp_path):
    env = {"SCRIPTSERVER_COMMANDS": ""}
    process, client = start_script(tmp_path, [], env)
    try:
        assert "set_ei" in [c["name"] for c in client.commands()]
    finally:
        stop(process)
