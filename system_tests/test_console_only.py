"""A console-only install: the `scriptserver` tool works where the server's packages are not.

A `sitecustomize` on PYTHONPATH puts a blocker in front of `sys.meta_path` that makes
`import pcaspy` (and psutil, docstring_parser) fail, as on a machine where the console
tool was installed alone (`pip install --no-deps scriptserver_ioc pyepics numpy rich`).
The real console script then drives a live IOC; and the server itself, started there,
says what to install and exits 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

BLOCKER = '''
import sys


class _ServerPackagesAbsent:
    """Finds nothing for the server's packages: importing them fails."""

    BLOCKED = ("pcaspy", "psutil", "docstring_parser")

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (console-only install)")
        return None


sys.meta_path.insert(0, _ServerPackagesAbsent())
'''


@pytest.fixture
def console_env(tmp_path) -> dict[str, str]:
    """The environment of a console-only install: the server's packages cannot be imported."""
    site = tmp_path / "console_site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path)


def console(env: dict[str, str], prefix: str, *args: str) -> subprocess.CompletedProcess:
    tool = Path(sys.executable).with_name("scriptserver")  # the installed console script
    return subprocess.run(
        [str(tool), "--prefix", prefix, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_GIVEN_blocker_WHEN_server_package_imported_THEN_it_fails(console_env):
    for name in ("pcaspy", "psutil", "docstring_parser"):
        result = subprocess.run(
            [sys.executable, "-c", f"import {name}"], env=console_env, capture_output=True
        )
        assert result.returncode == 1 and b"console-only install" in result.stderr, name


def test_GIVEN_no_pcaspy_WHEN_console_tool_drives_live_ioc_THEN_it_works(console_env, client, ioc):
    held = console(console_env, ioc.prefix, "hold")
    assert held.returncode == 0, held.stderr
    added = console(console_env, ioc.prefix, "add", "set_ei(25)", "--name", "console only")
    assert added.returncode == 0, added.stderr
    assert "queued job" in added.stdout
    listed = console(console_env, ioc.prefix, "queue", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [job["name"] for job in json.loads(listed.stdout)] == ["console only"]
    refused = console(console_env, ioc.prefix, "remove", "999")
    assert refused.returncode == 1 and "job 999 is not queued" in refused.stderr
    for result in (held, added, listed, refused):
        assert "Traceback" not in result.stderr
    # what the tool did is what the server holds (read here, where pcaspy exists)
    assert [job["name"] for job in client.queue()] == ["console only"]


def test_GIVEN_no_pcaspy_WHEN_server_started_THEN_one_line_naming_what_to_do(console_env, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "scriptserver_ioc", "--data-dir", str(tmp_path / "data")],
        cwd=ROOT,
        env=console_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "needs pcaspy, psutil, docstring_parser" in result.stderr
    assert "with its dependencies: pip install scriptserver_ioc" in result.stderr
