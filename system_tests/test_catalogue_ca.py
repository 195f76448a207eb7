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


def test_GIVEN_module_that_blocks_15_s_at_import_WHEN_file_edited_THEN_published_at_once(
    start_ioc, tmp_path
):
    """The corpus's sans2d reads five PVs at import; nobody serves them: 15 s in a job.

    The timeouts below are bounds on conditions, well under those 15 s; how long the
    publication takes is measured by bench/bench_catalogue.py.
    """
    pytest.importorskip("genie_python")
    commands = tmp_path / "commands"
    commands.mkdir()
    for package in ("sans2d", "scanlib"):
        shutil.copytree(INSTRUMENT / package, commands / package)
    (commands / "chopper.py").write_text(FIRST)
    ioc = start_ioc(commands=commands)
    client = ScriptServerClient(ioc.prefix)
    wait_until(lambda: "set_sample_position" in command_names(client), timeout=8)

    # the companion worker is now importing sans2d in the job's environment
    (commands / "sample.py").write_text('def set_temperature(kelvin: float):\n    """Set T."""\n')
    wait_until(lambda: "set_temperature" in command_names(client), timeout=5)

    import time

    time.sleep(10)
    print(client.get_json("COMMANDS:ERRORS"))
    print(ioc.log()[-4000:])
    slow = wait_until(
        lambda: [e for e in client.get_json("COMMANDS:ERRORS") if e.get("environment") == "job"],
        timeout=8,
    )
    assert [Path(e["file"]).parent.name for e in slow] == ["sans2d"]
    assert "importing module 'sans2d' has not finished after 3 s" in slow[0]["message"]
    (entry,) = [c for c in client.get_json("COMMANDS") if c["name"] == "set_sample_position"]
    assert entry["import_error"] is None  # slow is not broken: its jobs are accepted
