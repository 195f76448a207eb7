"""The command catalogue over Channel Access follows edits to the command directory."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from conftest import CaprotoClient, wait_until

from scriptserver_ioc.client.client import ScriptServerClient

FIRST = '''
def set_ei(energy: float, wait: bool = True):
    """Positions the choppers to allow the specified incident energy through.

    Args:
        energy: incident energy in meV
        wait: wait for the choppers to reach speed
    """


def estimate_set_ei(energy: float, wait: bool = True):
    return 30.0
'''


def command_names(reader) -> list[str]:
    return [c["name"] for c in reader.get_json("COMMANDS")]


def test_GIVEN_running_ioc_WHEN_command_files_edited_added_deleted_THEN_COMMANDS_follows(
    start_ioc, tmp_path, caproto_context
):
    commands = tmp_path / "commands"
    commands.mkdir()
    (commands / "chopper.py").write_text(FIRST)
    ioc = start_ioc(commands=commands)
    client = ScriptServerClient(ioc.prefix)
    caproto = CaprotoClient(caproto_context, ioc.prefix)
    (entry,) = client.get_json("COMMANDS")
    assert entry["name"] == "set_ei" and entry["has_estimate"] is True
    assert entry["params"][0] == {
        **entry["params"][0],
        "name": "energy",
        "type": "float",
        "required": True,
        "description": "incident energy in meV",
    }
    assert entry["description"].startswith("Positions the choppers")
    assert entry["source"] == "chopper.py:2"
    revision = client.get("COMMANDS:REVISION")

    seen = threading.Event()
    revisions = []

    def on_revision(value=None, **_):
        revisions.append(value)
        seen.set()

    monitor = client.pv("COMMANDS:REVISION")
    monitor.add_callback(on_revision)

    (commands / "sample.py").write_text('def set_temperature(kelvin: float):\n    """Set T."""\n')
    wait_until(lambda: "set_temperature" in command_names(client), timeout=5)
    assert sorted(command_names(caproto)) == ["set_ei", "set_temperature"]
    assert caproto.get("COMMANDS:COUNT") == 2
    wait_until(lambda: revisions and revisions[-1] > revision, timeout=5)

    (commands / "chopper.py").write_text(FIRST.replace("energy: float", "energy: int"))
    wait_until(lambda: client.get_json("COMMANDS")[0]["params"][0]["type"] == "int", timeout=5)

    (commands / "sample.py").rename(commands / "cryostat.py")
    wait_until(
        lambda: any(c["source"].startswith("cryostat.py") for c in caproto.get_json("COMMANDS")),
        timeout=5,
    )

    (commands / "broken.py").write_text("def oops(:\n    pass\n")
    errors = wait_until(lambda: caproto.get_json("COMMANDS:ERRORS"), timeout=5)
    assert errors[0]["file"].endswith("broken.py") and errors[0]["line"] == 1
    assert sorted(command_names(client)) == ["set_ei", "set_temperature"]

    os.remove(commands / "cryostat.py")
    wait_until(lambda: command_names(client) == ["set_ei"], timeout=5)
    assert client.get_json("STATUS")["commands_revision"] == client.get("COMMANDS:REVISION")


def test_GIVEN_catalogue_WHEN_reload_written_THEN_reply_and_commands_current(ioc):
    client = ScriptServerClient(ioc.prefix)
    reply = client.put("COMMANDS:RELOAD", 1)
    assert reply["ok"] and reply["message"].startswith("commands")
    names = command_names(client)
    for name in ("set_ei", "set_temperature", "begin_run", "end_run", "count", "scan", "do_sans"):
        assert name in names
    (do_sans,) = [c for c in client.get_json("COMMANDS") if c["name"] == "do_sans"]
    assert do_sans["kind"] == "script_definition"
    assert client.get_json("COMMANDS:ERRORS") == []


INSTRUMENT = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "instrument"


SHUTTER = '''"""The beamline shutter, whose controller is read at import.

The sleep stands for a device read with a 15 s time-out that neither the checker's
simulation nor a job skips.
"""

import time

time.sleep(15)


def shutter_status():
    """Say whether the shutter is open."""
{more}

class _Shutter:
    def open_shutter(self):
        """Open the shutter."""

    def close_shutter(self):
        """Close the shutter."""


_shutter = _Shutter()
for _name in {made}:
    locals()[_name] = getattr(_shutter, _name)  # made in code: only importing it finds them
'''

INTERLOCKS = '''

def shutter_interlocks():
    """List the shutter's interlocks."""
'''


GATE = '''import time

time.sleep(15)  # each gate controller is read at import, as the shutter's


def gate_{n}_status():
    """Say whether gate {n} is open."""
'''


def slow_named(client, module: str, environment: str) -> list[dict]:
    """The COMMANDS:ERRORS entries naming `module` as still importing in `environment`."""
    return [
        e
        for e in client.get_json("COMMANDS:ERRORS")
        if e.get("environment") == environment
        and f"importing module '{module}' has not finished after" in e["message"]
    ]


def test_GIVEN_modules_that_block_15_s_at_import_WHEN_started_and_edited_THEN_published_first(
    start_ioc, tmp_path
):
    """Publication never waits for a blocking import: shown by condition, not by the clock.

    `shutter.py` and three `gate_N.py` sleep 15 s at import (checker and jobs); the
    corpus's sans2d reads five PVs nobody serves at import (instant in the checker's
    simulation, 15 s in a job). The rest of the catalogue, each edit, the naming of every
    slow module and a job of another module are all seen while shutter's import is still
    running: its code-made `open_shutter` is not listed yet. Time bounds below are for
    failing, not measurements (bench/bench_catalogue_reload.py, bench_catalogue_start.py).
    """
    pytest.importorskip("genie_python")
    commands = tmp_path / "commands"
    commands.mkdir()
    for package in ("sans2d", "scanlib"):
        shutil.copytree(INSTRUMENT / package, commands / package)
    (commands / "chopper.py").write_text(FIRST)
    (commands / "shutter.py").write_text(SHUTTER.format(more="", made=("open_shutter",)))
    gates = [f"gate_{n}" for n in range(3)]
    for n, gate in enumerate(gates):
        (commands / f"{gate}.py").write_text(GATE.format(n=n))
    ioc = start_ioc(commands=commands)
    client = ScriptServerClient(ioc.prefix)

    # first catalogue: the checker's view of sans2d; shutter and every gate named slow
    for module in ["shutter", *gates]:
        wait_until(lambda m=module: slow_named(client, m, "simulated"), timeout=30)
    names = wait_until(lambda: "set_sample_position" in (n := command_names(client)) and n)
    assert {"set_ei", "shutter_status"} <= set(names) and "open_shutter" not in names
    # the other modules' commands are usable: a job of one is queued
    assert client.add("set_ei(25)")
    assert "open_shutter" not in command_names(client)  # all this before its import ended

    # hot reload of another file, then of the blocking one itself
    (commands / "sample.py").write_text('def set_temperature(kelvin: float):\n    """Set T."""\n')
    names = wait_until(lambda: "set_temperature" in (n := command_names(client)) and n)
    assert "open_shutter" not in names
    edited = SHUTTER.format(more=INTERLOCKS, made=("open_shutter", "close_shutter"))
    (commands / "shutter.py").write_text(edited)
    names = wait_until(lambda: "shutter_interlocks" in (n := command_names(client)) and n)
    assert "close_shutter" not in names  # published before the edited module's import ended
    wait_until(lambda: slow_named(client, "shutter", "simulated"), timeout=30)
    assert "close_shutter" not in command_names(client)

    # the companion worker imports sans2d as a job does: named slow there, jobs accepted
    (slow,) = wait_until(lambda: slow_named(client, "sans2d", "job"), timeout=30)
    assert Path(slow["file"]).parent.name == "sans2d"
    (entry,) = [c for c in client.get_json("COMMANDS") if c["name"] == "set_sample_position"]
    assert entry["import_error"] is None  # slow is not broken: its jobs are accepted
