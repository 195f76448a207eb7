"""The demo instrument in commands/: read by the catalogue, and runnable without hardware."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scriptserver_ioc.catalogue import Catalogue

COMMANDS = Path(__file__).resolve().parent.parent / "commands"

FAKE_API = '''
"""Stand-in for the job API: records every call as a JSON line in $API_LOG."""
import json, os

def _log(*call):
    with open(os.environ["API_LOG"], "a") as f:
        f.write(json.dumps(call) + "\\n")

def progress(percent, message=""): _log("progress", percent, message)
def message(text): _log("message", text)
def pause_point(): _log("pause_point")
def sleep(seconds): _log("sleep", seconds)
def simulating(): return os.environ.get("SIMULATE") == "1"
'''


@pytest.fixture(scope="module")
def demo():
    return Catalogue([COMMANDS])


def run_job(tmp_path, code, api=False, simulate=False):
    """Run `code` in a fresh interpreter with commands/ on sys.path, as a job would."""
    env = {"SCRIPTSERVER_DEMO_STATE": str(tmp_path / "beamline.json"), "PYTHONPATH": str(COMMANDS)}
    if api:
        (tmp_path / "api").mkdir(exist_ok=True)
        (tmp_path / "api" / "scriptserver.py").write_text(FAKE_API)
        env["PYTHONPATH"] += ":" + str(tmp_path / "api")
        env["API_LOG"] = str(tmp_path / "api.log")
        env["SIMULATE"] = "1" if simulate else "0"
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def api_calls(tmp_path):
    lines = (tmp_path / "api.log").read_text().splitlines()
    return [json.loads(line) for line in lines]


def state(tmp_path):
    return json.loads((tmp_path / "beamline.json").read_text())


def test_GIVEN_demo_WHEN_read_THEN_realistic_command_set_without_errors(demo):
    assert demo.errors == []
    expected = {"set_ei", "set_temperature", "change_sample", "set_field", "begin_run"}
    expected |= {"end_run", "count", "waitfor_uamps", "scan", "scan_points", "move", "do_sans"}
    assert expected <= set(demo.names())
    assert "motor_names" not in demo.names()  # motion.py marks its commands
    assert demo.get("do_sans").kind == "script_definition"


def test_GIVEN_demo_WHEN_read_THEN_every_command_and_parameter_is_described(demo):
    for command in demo.commands():
        assert command.description, command.name
        assert command.description[0].isupper() and command.description.endswith("."), command.name
        for param in command.params:
            assert param.description, f"{command.name}.{param.name}"


def test_GIVEN_demo_WHEN_read_THEN_estimates_and_validations_declared(demo):
    estimated = {c.name for c in demo.commands() if c.has_estimate}
    validated = {c.name for c in demo.commands() if c.has_validate}
    assert {"set_ei", "set_temperature", "count", "scan", "waitfor_uamps", "do_sans"} <= estimated
    assert {"set_ei", "set_temperature", "change_sample", "scan", "do_sans"} <= validated
    assert demo.get("set_field").enum_params == {"direction": "FieldDirection"}
    assert json.dumps(demo.to_json(), ensure_ascii=True, allow_nan=False)


def test_GIVEN_bound_arguments_WHEN_demo_commands_run_without_job_api_THEN_beamline_changes(
    tmp_path, demo
):
    calls = [
        ("set_ei", [25], {}),
        ("change_sample", ["3"], {"name": "Fe3O4"}),
        ("set_temperature", ["250"], {}),
        ("set_field", [1.5], {"direction": "horizontal"}),
        ("count", [], {"seconds": 0.3, "title": "Fe3O4 250K"}),
        ("begin_run", [], {}),
        ("waitfor_uamps", [0.2], {}),
        ("end_run", [], {}),
        ("scan", ["sample_height", -1, 1], {"steps": 3, "count_seconds": 0.01}),
        ("move", ["sample_x", 2.0], {}),
    ]
    lines = [
        f"from {demo.get(name).module} import {name}; {name}(**{demo.bind(name, args, kwargs)!r})"
        for name, args, kwargs in calls
    ]
    out = run_job(tmp_path, "\n".join(lines))
    assert "Setting Ei to 25 meV" in out
    assert "sample_height=0 counts=" in out
    final = state(tmp_path)
    assert final["ei"] == 25.0 and final["sample_position"] == 3 and final["sample_name"] == "Fe3O4"
    assert final["temperature"] == 250.0 and final["field_direction"] == "HORIZONTAL"
    assert final["run_number"] == 1002 and final["run_state"] == "SETUP"
    assert final["uamps"] >= 0.2
    assert final["motors"] == {"sample_height": 1.0, "sample_x": 2.0}


def test_GIVEN_job_api_WHEN_scan_runs_THEN_progress_and_pause_points_reported(tmp_path):
    run_job(tmp_path, "from scans import scan; scan('theta', 0, 2, steps=3)", api=True)
    calls = api_calls(tmp_path)
    progress = [c for c in calls if c[0] == "progress"]
    assert [p[1] for p in progress] == pytest.approx([0.0, 100 / 3, 200 / 3, 100.0])
    assert progress[1][2] == "theta = 1 (point 2 of 3)"
    assert sum(1 for c in calls if c[0] == "pause_point") == 3
    assert any(c[0] == "sleep" for c in calls)


def test_GIVEN_dry_run_WHEN_commands_run_THEN_virtual_sleeps_and_state_untouched(tmp_path):
    run_job(
        tmp_path,
        "from dae import count; from chopper import set_ei; set_ei(30); count(3600)",
        api=True,
        simulate=True,
    )
    assert not (tmp_path / "beamline.json").exists()
    sleeps = sum(c[1] for c in api_calls(tmp_path) if c[0] == "sleep")
    assert sleeps >= 3600


def test_GIVEN_validate_companions_WHEN_called_THEN_messages_for_bad_values(tmp_path):
    out = run_job(
        tmp_path,
        """
        from sample import validate_set_temperature, estimate_set_temperature
        from chopper import validate_set_ei
        from scans import validate_scan, estimate_scan
        print(validate_set_temperature(500.0))
        print(validate_set_temperature(10.0))
        print(validate_set_ei(2000.0))
        print(validate_scan("x", 0, 1, steps=1))
        print(estimate_scan("x", 0, 1, steps=4, count_seconds=1.0))
        print(estimate_set_temperature(100.0))
        """,
    )
    lines = out.splitlines()
    assert lines[0] == "temperature 500 K is outside the cryostat's range 1.5 to 300 K"
    assert lines[1] == "None"
    assert lines[2].startswith("energy 2000 meV is out of range")
    assert lines[3] == "a scan needs at least 2 steps, not 1"
    assert float(lines[4]) == pytest.approx(4.2)
    assert float(lines[5]) == pytest.approx(1.1)
