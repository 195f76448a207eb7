"""Dry runs: virtual clock, declared estimates, recorded writes, limits, errors with lines."""

import datetime
import glob
import sys
from pathlib import Path

import pytest

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.validate.dryrun import command_source, run_dry

COMMANDS = Path(__file__).parent / "validate_corpus" / "commands"


@pytest.fixture(scope="module")
def job_commands():
    return Catalogue([COMMANDS]).job_commands()


def dry(source, job_commands, **kwargs):
    kwargs.setdefault("time_limit", 60)  # for one that hangs; a loaded machine is slow
    return run_dry(
        source, commands=job_commands, command_dirs=[COMMANDS], job_python=sys.executable, **kwargs
    )


DEMO = """\
import time
import scriptserver
for temperature in [10, 20, 30]:
    set_temperature(temperature)
    count(minutes=2)
    time.sleep(30)
    scriptserver.sleep(10)
    scriptserver.progress(50, "half way")
import epics
epics.caput("IN:DEMO:SHUTTER", [1, 2])
"""


def test_GIVEN_demo_script_WHEN_dry_run_THEN_estimate_is_sum_of_declared_estimates_and_sleeps(
    job_commands,
):
    result = dry(DEMO, job_commands)
    assert result["ok"] is True and result["error"] is None
    assert result["estimate"] == pytest.approx(3 * (300 + 120 + 30 + 10), abs=1.0)
    declared = [s for s in result["steps"] if "declared estimate; run in simulation" in s["what"]]
    assert [(s["line"], s["what"].split(" ~")[0]) for s in declared] == [
        (4, "set_temperature(10)"),
        (5, "count(minutes=2)"),
        (4, "set_temperature(20)"),
        (5, "count(minutes=2)"),
        (4, "set_temperature(30)"),
        (5, "count(minutes=2)"),
    ]
    assert declared[2]["t"] == pytest.approx(460, abs=0.5)
    times = [s["t"] for s in result["steps"]]
    assert times == sorted(times)
    assert {"line": 8, "t": pytest.approx(1380, abs=1), "what": "progress 50 % half way"} in result[
        "steps"
    ]
    assert result["writes"] == [
        {
            "pv": "IN:DEMO:SHUTTER",
            "value": [1, 2],
            "t": pytest.approx(1380, abs=1),
            "via": "pyepics caput",
            "line": 10,
        }
    ]
    assert result["withheld"] == ["would write `IN:DEMO:SHUTTER` = [1, 2] (line 10)"]
    assert result["steps"][-1]["what"] == "write IN:DEMO:SHUTTER = [1, 2] (not sent; pyepics caput)"


def test_GIVEN_command_with_estimate_WHEN_dry_run_THEN_run_in_simulation_for_its_estimate(
    job_commands, tmp_path
):
    marker = tmp_path / "executed"
    result = dry(f"mark({str(marker)!r})\n", job_commands)
    assert result["ok"] and result["estimate"] == pytest.approx(2.5, abs=0.5)
    assert not marker.exists()  # it checked scriptserver.simulating()
    result = dry(f"x = 1\nmark({str(tmp_path / 'missing' / 'x')!r})\n", job_commands)
    assert not result["ok"] and result["error"]["line"] == 2  # found inside the command
    assert "no folder" in result["error"]["message"]


def test_GIVEN_command_without_estimate_WHEN_dry_run_THEN_run_in_simulation_with_virtual_sleeps(
    job_commands,
):
    result = dry("state = shutter(open=False)\nprint('shutter', state)\n", job_commands)
    assert result["ok"]
    assert result["estimate"] == pytest.approx(5, abs=0.5)  # its time.sleep(5) was virtual
    assert "shutter closed" in result["output"]
    assert any("(no estimate: run in simulation)" in s["what"] for s in result["steps"])


def test_GIVEN_clock_reading_script_WHEN_dry_run_THEN_time_and_datetime_follow_the_virtual_clock(
    job_commands,
):
    source = """\
import time
from datetime import datetime, timedelta
import scriptserver
start, mono, until = time.time(), time.monotonic(), datetime.now() + timedelta(hours=2)
while datetime.now() < until:
    count(minutes=10)
print("simulating", scriptserver.simulating(), round(time.time() - start),
      round(time.monotonic() - mono))
"""
    result = dry(source, job_commands)
    assert result["ok"], result["error"]
    assert "simulating True 7200 7200" in result["output"]
    assert result["estimate"] == pytest.approx(7200, abs=1)


def test_GIVEN_exception_WHEN_dry_run_THEN_error_with_the_jobs_line_and_traceback(job_commands):
    result = dry("count(minutes=1)\nvalues = {}\nprint(values['missing'])\n", job_commands)
    assert result["ok"] is False and result["estimate"] is None
    error = result["error"]
    assert (error["type"], error["line"]) == ("KeyError", 3)
    assert error["message"] == "KeyError: 'missing'"
    assert "line 3" in error["traceback"]


def test_GIVEN_wrong_call_of_a_command_WHEN_dry_run_THEN_binding_error_at_that_line(job_commands):
    result = dry("x = 5\ncount(minutes=x, speed=3)\n", job_commands)
    assert result["error"]["line"] == 2
    assert "count(minutes=5, speed=3)" in result["error"]["message"]
    assert "unexpected keyword argument 'speed'" in result["error"]["message"]


def test_GIVEN_endless_loop_WHEN_dry_run_THEN_stopped_within_the_limit_with_clear_error(
    job_commands,
):
    result = dry("x = 0\nwhile True:\n    x += 1\n", job_commands, time_limit=1.5)
    assert result["ok"] is False
    assert result["error"]["type"] == "DryRunTimeout"
    assert result["error"]["line"] in (2, 3)
    # stopped by its own limit (an endless loop never ends otherwise), which it names
    assert result["error"]["message"].startswith("dry run stopped after 1.5 s of real time at line")


def test_GIVEN_loop_that_swallows_the_stop_WHEN_dry_run_THEN_still_stopped(job_commands):
    source = "while True:\n    try:\n        pass\n    except BaseException:\n        pass\n"
    result = dry(source, job_commands, time_limit=1)
    assert result["error"]["type"] == "DryRunTimeout"  # its own limit stopped it
    assert result["error"]["message"].startswith("dry run stopped after 1 s of real time at line")
    assert result["error"]["line"] in (1, 2, 3, 4, 5)


def test_GIVEN_long_loop_WHEN_dry_run_THEN_steps_capped_but_estimate_complete(job_commands):
    result = dry(
        "import time\nfor i in range(5000):\n    time.sleep(1)\n", job_commands, max_steps=100
    )
    assert result["ok"] and result["truncated"] is True
    assert len(result["steps"]) == 100
    assert result["estimate"] == pytest.approx(5000, abs=1)


def test_GIVEN_prelude_WHEN_dry_run_THEN_its_names_exist_and_its_time_is_not_counted(job_commands):
    prelude = "import time\ntime.sleep(100)\nDEFAULT_MINUTES = 3\n"
    result = dry("count(minutes=DEFAULT_MINUTES)\n", job_commands, prelude=prelude)
    assert result["ok"] and result["estimate"] == pytest.approx(180, abs=0.5)


def test_GIVEN_failing_prelude_WHEN_dry_run_THEN_error_says_the_prelude_failed(job_commands):
    result = dry("count()\n", job_commands, prelude="raise RuntimeError('no instrument')\n")
    assert result["error"]["message"] == "the prelude failed: RuntimeError: no instrument"


def test_GIVEN_input_call_WHEN_dry_run_THEN_clear_error_instead_of_waiting(job_commands):
    result = dry("answer = input('continue?')\n", job_commands)
    assert result["error"]["message"] == "RuntimeError: input() cannot be answered in a dry run"


def test_GIVEN_command_job_WHEN_dry_run_THEN_one_step_with_its_declared_estimate(job_commands):
    source = command_source("set_temperature", {"temperature": 20.0, "wait": False})
    assert source == "set_temperature(temperature=20.0, wait=False)\n"
    result = dry(source, job_commands)
    assert result["ok"] and result["estimate"] == pytest.approx(1.0, abs=0.5)


def test_GIVEN_script_definition_WHEN_dry_run_THEN_its_estimate_time_is_used(job_commands):
    result = dry("temperature_scan(start=10, stop=30, step='10')\n", job_commands)
    assert result["ok"], result["error"]
    assert result["estimate"] == pytest.approx(180, abs=0.5)


def test_GIVEN_genie_script_WHEN_dry_run_THEN_waits_virtual_and_cset_recorded(job_commands):
    pytest.importorskip("genie_python")
    source = """\
from genie_python import genie as g
g.cset("temperature", 5)
g.waitfor_time(minutes=2)
g.waitfor(seconds=30)
g.set_pv("IN:DEMO:SHUTTER", 1)
"""
    result = dry(source, job_commands, time_limit=60)
    assert result["ok"], result["error"]
    writes = [(w["pv"], w["value"], w["via"]) for w in result["writes"]]
    assert writes == [
        ("temperature", 5, "genie cset"),
        ("IN:DEMO:SHUTTER", 1, "genie set_pv"),
    ]
    # the virtual clock also counts real time (genie_python's import: seconds under load)
    assert 150 <= result["writes"][1]["t"] <= 150 + result["real_seconds"] + 0.01
    assert 150 <= result["estimate"] <= 150 + result["real_seconds"] + 0.01


def test_GIVEN_interpreter_that_does_not_exist_WHEN_dry_run_THEN_clear_error(tmp_path):
    result = run_dry("x = 1\n", job_python=str(tmp_path / "nope"))
    assert result["ok"] is False
    assert "cannot start the job interpreter" in result["error"]["message"]


def test_GIVEN_demo_instrument_WHEN_dry_run_THEN_estimate_matches_the_validators_declared_ones():
    from scriptserver_ioc.validate.companions import CompanionRunner
    from scriptserver_ioc.validate.validator import Validator

    demo = Path(__file__).parent.parent / "commands"
    companions = CompanionRunner(sys.executable, [demo])
    try:
        validator = Validator(Catalogue([demo]), companions)
        calls = [("set_ei", {"energy": 25.0}), ("count", {"seconds": 30.0})]
        declared = [validator.check({"command": c, "args": a}) for c, a in calls]
        assert all(v.estimate_source == "declared" for v in declared)
        source = "".join(command_source(c, a) for c, a in calls) + "import time\ntime.sleep(12)\n"
        result = validator.dry_run({"kind": "script", "script": source}, time_limit=60)
    finally:
        companions.close()
    assert result["ok"], result["error"]
    expected = sum(v.estimate for v in declared) + 12
    assert result["estimate"] == pytest.approx(expected, abs=1.0)


OLD_PYTHONS = sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.8*/bin/python3")))


@pytest.mark.skipif(not OLD_PYTHONS, reason="no Python 3.8 interpreter here")
def test_GIVEN_python38_job_interpreter_WHEN_dry_run_THEN_same_result(job_commands):
    result = run_dry(
        "import time\nfor i in range(3):\n    count(minutes=1)\n    time.sleep(2)\nx = 1 / 0\n",
        commands=job_commands,
        command_dirs=[COMMANDS],
        job_python=OLD_PYTHONS[0],
        time_limit=5,
    )
    assert result["error"]["line"] == 5
    assert result["error"]["message"] == "ZeroDivisionError: division by zero"
    assert result["steps"][-1]["t"] == pytest.approx(186, abs=1)


def test_GIVEN_dry_run_under_way_WHEN_its_server_dies_THEN_it_ends_too(tmp_path):
    """Nobody waits for the verdict of a dry run whose server is gone: it must not run on."""
    import contextlib
    import os
    import subprocess

    import psutil
    from waiting import wait_until

    job = "open('started.txt', 'w').close()\nimport time\nwhile True:\n    time.sleep(1)\n"
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom scriptserver_ioc.validate.dryrun import run_dry\n"
            f"run_dry({job!r}, time_limit=600, job_python=sys.executable)\n",
        ],
        env={**os.environ, "TMPDIR": str(tmp_path)},  # the dry run's scratch space
    )
    try:
        # the job's write goes to its scratch overlay: the dry run is inside the job's code
        wait_until(lambda: list(tmp_path.rglob("started.txt")), timeout=60)
        dry = psutil.Process(server.pid).children(recursive=True)
        assert dry
    finally:
        server.kill()
        server.wait()
    try:
        wait_until(lambda: not any(p.is_running() and p.status() != "zombie" for p in dry), 30)
    finally:
        for process in dry:
            with contextlib.suppress(psutil.Error):
                process.kill()


def test_GIVEN_dry_run_WHEN_script_checks_datetime_layout_THEN_same_size_as_the_c_type(
    job_commands,
):
    """Compiled modules (pandas, h5py) compare datetime.datetime's size with their headers."""
    source = (
        "import datetime\n"
        "assert datetime.datetime.__basicsize__ == datetime.date.__basicsize__ + "
        f"{datetime.datetime.__basicsize__ - datetime.date.__basicsize__}, 'size changed'\n"
        "assert datetime.datetime.now().year > 2000\n"
    )
    result = dry(source, job_commands)
    assert result["ok"], result["error"]
