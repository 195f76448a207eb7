"""JobRunner with real job processes: lines traced, results, commands, prelude, job API."""

from __future__ import annotations

import re
import sys

import pytest
from test_runner_support import (
    launch,
    log_text,
    python_at_least,
    write_module,
)

PYTHON_312 = python_at_least((3, 12))
PYTHON_38 = python_at_least((3, 8))

INTERPRETERS = [
    pytest.param(sys.executable, id="venv-settrace"),
    pytest.param(
        PYTHON_312,
        id="py312-monitoring",
        marks=pytest.mark.skipif(PYTHON_312 is None, reason="no python3.12 here"),
    ),
    pytest.param(
        PYTHON_38,
        id="py38-settrace",
        marks=pytest.mark.skipif(PYTHON_38 is None, reason="no python3.8 here"),
    ),
]

SLOW_LINES_SCRIPT = """\
import time; time.sleep(0.06)
for i in range(2):
    time.sleep(0.06)
time.sleep(0.06)
def f():
    time.sleep(0.06)
f()
"""


def _dedupe(values):
    out = []
    for value in values:
        if not out or out[-1] != value:
            out.append(value)
    return out


@pytest.mark.parametrize("python", INTERPRETERS)
def test_GIVEN_multi_line_script_WHEN_run_THEN_line_events_follow_its_lines(make_runner, python):
    runner, events = make_runner(job_python=python)
    entry = launch(make_runner.data_dir, 1, SLOW_LINES_SCRIPT)
    runner.start(entry)

    finished = events.wait(1, "finished")

    assert finished["state"] == "DONE", finished
    lines = events.lines(1)
    assert set(lines) <= set(range(1, 8))
    assert _dedupe([n for n in lines if n in (1, 3, 4, 6)]) == [1, 3, 4, 6]
    kinds = [e["type"] for e in events.of(1)]
    assert kinds[0] == "started" and kinds[-1] == "finished"


def test_GIVEN_script_raising_at_line_3_WHEN_run_THEN_failed_with_type_message_line(make_runner):
    runner, events = make_runner()
    runner.start(launch(make_runner.data_dir, 2, "x = 1\ny = 0\nz = x / y\nprint('never')\n"))

    finished = events.wait(2, "finished")

    assert finished["state"] == "FAILED"
    assert finished["exit_code"] == 1
    error = finished["error"]
    assert error["type"] == "ZeroDivisionError"
    assert error["message"] == "division by zero"
    assert error["line"] == 3
    assert 'File "<job 2>", line 3' in error["traceback"]
    assert "launcher.py" not in error["traceback"]


def test_GIVEN_error_inside_a_command_WHEN_run_THEN_line_is_the_jobs_calling_line(
    make_runner, tmp_path
):
    commands = tmp_path / "commands"
    path = write_module(commands, "broken", "def explode(n):\n    raise ValueError(f'bad {n}')\n")
    runner, events = make_runner(command_dirs=[commands])
    entry = launch(
        make_runner.data_dir,
        3,
        "a = 1\nexplode(7)\n",
        commands=[{"name": "explode", "module": "broken", "path": str(path), "kind": "function"}],
    )
    runner.start(entry)

    error = events.wait(3, "finished")["error"]

    assert (error["type"], error["message"], error["line"]) == ("ValueError", "bad 7", 2)
    assert "broken.py" in error["traceback"]


def test_GIVEN_syntax_error_WHEN_run_THEN_failed_with_its_line(make_runner):
    runner, events = make_runner()
    runner.start(launch(make_runner.data_dir, 4, "x = 1\n\nif x\n    pass\n"))

    finished = events.wait(4, "finished")

    assert finished["state"] == "FAILED"
    assert finished["error"]["type"] == "SyntaxError"
    assert finished["error"]["line"] == 3
    assert events.of(4, "line") == []


def test_GIVEN_commands_and_prelude_WHEN_run_THEN_commands_callable_by_name_and_untraced(
    make_runner, tmp_path
):
    commands = tmp_path / "commands"
    tools = write_module(
        commands,
        "tools",
        "import time\n\n\n\n\n\n\n\n\n\n"
        "def shout(text):\n"
        "    a = 1\n"
        "    time.sleep(0.05)\n"
        "    b = 2\n"
        "    time.sleep(0.05)\n"
        "    print('SHOUT:' + text.upper())\n"
        "    return a + b\n",
    )
    prelude = tmp_path / "prelude.py"
    prelude.write_text("PRELUDE_VALUE = 42\nprint('prelude ran')\n", encoding="utf-8")
    runner, events = make_runner(command_dirs=[commands], prelude=prelude)
    entry = launch(
        make_runner.data_dir,
        5,
        "print('value', PRELUDE_VALUE)\nresult = shout('hi')\nprint('result', result)\n",
        commands=[{"name": "shout", "module": "tools", "path": str(tools), "kind": "function"}],
    )
    runner.start(entry)

    finished = events.wait(5, "finished")

    assert finished["state"] == "DONE", finished
    text = log_text(entry)
    assert "prelude ran" in text and "value 42" in text
    assert "SHOUT:HI" in text and "result 3" in text
    assert set(events.lines(5)) <= {1, 2, 3}


def test_GIVEN_script_definition_WHEN_called_by_name_THEN_runs_with_strings_and_error_raises(
    make_runner, tmp_path
):
    commands = tmp_path / "defs"
    path = write_module(
        commands,
        "scan_temps",
        "class ScriptDefinition:\n    pass\n\n"
        "class DoRun(ScriptDefinition):\n"
        "    def run(self, temperature='1.0', count='1'):\n"
        "        if float(temperature) < 0:\n"
        "            return 'temperature must be >= 0'\n"
        "        print('RUN', repr(temperature), repr(count))\n"
        "    def parameters_valid(self, temperature='1.0', count='1'):\n"
        "        return None\n",
    )
    runner, events = make_runner(command_dirs=[commands])
    entry = launch(
        make_runner.data_dir,
        6,
        "scan_temps(temperature=5, count='2')\nscan_temps(temperature=-1)\n",
        commands=[
            {
                "name": "scan_temps",
                "module": "scan_temps",
                "path": str(path),
                "kind": "script_definition",
            }
        ],
    )
    runner.start(entry)

    finished = events.wait(6, "finished")

    assert "RUN '5' '2'" in log_text(entry)
    assert finished["state"] == "FAILED"
    assert finished["error"]["type"] == "ScriptDefinitionError"
    assert "temperature must be >= 0" in finished["error"]["message"]
    assert finished["error"]["line"] == 2


def test_GIVEN_enum_parameter_WHEN_called_with_member_name_THEN_command_gets_the_member(
    make_runner, tmp_path
):
    commands = tmp_path / "commands"
    path = write_module(
        commands,
        "magnet",
        "from enum import Enum\n"
        "class Direction(Enum):\n    UP = 1\n    DOWN = 2\n"
        "def set_field(direction: Direction, tesla: float = 0.0):\n"
        "    print('FIELD', direction, tesla)\n",
    )
    runner, events = make_runner(command_dirs=[commands])
    entry = launch(
        make_runner.data_dir,
        7,
        "set_field(direction='DOWN', tesla=1.5)\n",
        commands=[
            {
                "name": "set_field",
                "module": "magnet",
                "path": str(path),
                "kind": "function",
                "enum_params": {"direction": "Direction"},
            }
        ],
    )
    runner.start(entry)

    assert events.wait(7, "finished")["state"] == "DONE"
    assert "FIELD Direction.DOWN 1.5" in log_text(entry)


def test_GIVEN_command_module_failing_to_import_WHEN_job_does_not_use_it_THEN_job_runs(
    make_runner, tmp_path
):
    commands = tmp_path / "commands"
    bad = write_module(commands, "needs_missing", "import no_such_module_here\ndef f():\n  pass\n")
    runner, events = make_runner(command_dirs=[commands])
    cmd = [{"name": "f", "module": "needs_missing", "path": str(bad), "kind": "function"}]
    runner.start(launch(make_runner.data_dir, 8, "print('fine')\n", commands=cmd))
    assert events.wait(8, "finished")["state"] == "DONE"

    runner.start(launch(make_runner.data_dir, 9, "f()\n", commands=cmd))
    error = events.wait(9, "finished")["error"]
    assert error["type"] == "CommandUnavailable"
    assert "no_such_module_here" in error["message"]


def test_GIVEN_job_api_calls_WHEN_run_THEN_progress_and_message_events(make_runner):
    runner, events = make_runner()
    source = (
        "import scriptserver, time\n"
        "scriptserver.progress(25, 'quarter')\n"
        "time.sleep(0.1)\n"
        "scriptserver.message('almost')\n"
        "time.sleep(0.1)\n"
        "assert not scriptserver.simulating()\n"
    )
    runner.start(launch(make_runner.data_dir, 10, source))

    assert events.wait(10, "finished")["state"] == "DONE"
    assert events.wait(10, "progress") == {
        "type": "progress",
        "percent": 25.0,
        "message": "quarter",
        "scope": "job",  # reported by the job's own code, at its line 2
        "line": 2,
    }
    assert events.wait(10, "message")["text"] == "almost"


def test_GIVEN_blackbox_job_WHEN_run_THEN_no_line_events_and_output_tail(make_runner):
    runner, events = make_runner()
    source = "import time\nfor i in range(3):\n    print('tick', i)\n    time.sleep(0.05)\n"
    runner.start(launch(make_runner.data_dir, 11, source, blackbox=True))

    assert events.wait(11, "finished")["state"] == "DONE"
    assert events.of(11, "line") == []
    assert "tick 2" in events.of(11, "output")[-1]["tail"]


@pytest.mark.parametrize(
    ("source", "state", "code"),
    [("import sys\nsys.exit(0)\n", "DONE", 0), ("import sys\nsys.exit(3)\n", "FAILED", 1)],
)
def test_GIVEN_sys_exit_WHEN_run_THEN_zero_is_done_and_nonzero_failed(
    make_runner, source, state, code
):
    runner, events = make_runner()
    runner.start(launch(make_runner.data_dir, 12, source))

    finished = events.wait(12, "finished")

    assert (finished["state"], finished["exit_code"]) == (state, code)


def test_GIVEN_bad_launch_WHEN_start_THEN_value_error_names_the_key(make_runner):
    runner, _ = make_runner()
    with pytest.raises(ValueError, match="job_id"):
        runner.start({"source": "", "filename": "x", "log_path": "/tmp/x"})
    with pytest.raises(ValueError, match=re.escape("launch['source'] must be str")):
        runner.start({"job_id": 1, "source": 5, "filename": "x", "log_path": "/tmp/x"})


def test_GIVEN_partial_line_and_unicode_WHEN_job_waits_THEN_output_tail_shows_them(
    make_runner, tmp_path
):
    go = tmp_path / "go"
    runner, events = make_runner()
    source = (
        "import os, sys, time\n"
        "print('température 5 K ✓')\n"
        "sys.stdout.write('partial line, no newline')\n"
        f"while not os.path.exists({str(go)!r}):\n"
        "    time.sleep(0.01)\n"
    )
    runner.start(launch(make_runner.data_dir, 13, source))

    tail = events.wait(13, "output", where=lambda e: "no newline" in e["tail"])["tail"]
    go.touch()

    assert "température 5 K ✓\n" in tail
    assert events.wait(13, "finished")["state"] == "DONE"


def test_GIVEN_missing_job_python_WHEN_start_THEN_failed_with_launch_error(make_runner):
    runner, events = make_runner(job_python="/nonexistent/python3")
    runner.start(launch(make_runner.data_dir, 14, "x = 1\n"))

    finished = events.wait(14, "finished")

    assert finished["state"] == "FAILED"
    assert finished["error"]["type"] == "LaunchError"
    assert "/nonexistent/python3" in finished["error"]["message"]
    assert runner.pause(immediate=False) == "no job is running"
