"""Dry runs that behave like the instrument: genie_python's run control, blocks and beam."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.validate.dryrun import run_dry
from scriptserver_ioc.validate.preflight import check_calls, preflight_record

pytest.importorskip("genie_python")

COMMANDS = Path(__file__).resolve().parent.parent / "commands"

# The manner of InstrumentScripts/ScriptDefinitions loops: set, begin, count on beam, end.
NIGHT = """\
from genie_python import genie as g
for temperature in [10, 20]:
    g.cset("temperature", temperature)
    g.begin(paused=True)
    g.resume()
    g.waitfor_uamps(20)
    g.end()
g.begin()
g.waitfor_frames(36000)
g.end()
"""


def dry(source, **kwargs):
    kwargs.setdefault("time_limit", 120)  # a bound for a dry run that hangs (not a speed test)
    return run_dry(source, job_python=sys.executable, **kwargs)


def assert_virtual(result, expected, slack=0.0):
    """The estimate is the modelled time plus the real seconds the dry run took (at most).

    The virtual clock also counts real time (imports, genie_python's set-up): on a loaded
    machine that is seconds, so it is bounded by the dry run's own `real_seconds`.
    """
    estimate = result["estimate"]
    assert expected - 0.01 <= estimate <= expected + slack + result["real_seconds"] + 0.01, (
        estimate,
        result["real_seconds"],
    )


def test_GIVEN_runs_counting_on_beam_WHEN_dry_run_THEN_beam_model_gives_the_time():
    result = dry(NIGHT)
    assert result["ok"], result["error"]
    # 2 x 20 uAh at 40 uA = 1 h, then 36000 frames at 10 Hz = 1 h (ISIS defaults)
    assert_virtual(result, 7200)
    beam = result["beam"]
    assert beam["current"] == {"value": 40.0, "source": "ISIS default"}
    assert beam["waited"]["uamps"] == 40 and beam["waited"]["frames"] == 36000


def test_GIVEN_beam_options_WHEN_dry_run_THEN_used_and_recorded():
    result = dry(NIGHT, beam={"current": 160.0, "frame_rate": 40.0})
    assert_virtual(result, 900 + 900)
    assert result["beam"]["current"] == {"value": 160.0, "source": "option"}
    assert result["beam"]["frame_rate"]["source"] == "option"


def test_GIVEN_beam_pv_that_cannot_be_read_WHEN_dry_run_THEN_option_used_and_noted():
    result = dry(NIGHT, beam={"current": 80.0, "current_pv": "NO:SUCH:BEAM:PV"}, time_limit=120)
    assert result["ok"], result["error"]
    assert result["beam"]["current"] == {"value": 80.0, "source": "option"}
    assert any("NO:SUCH:BEAM:PV" in note for note in result["notes"])


def test_GIVEN_polling_loop_on_uamps_WHEN_dry_run_THEN_counters_grow_with_virtual_time():
    source = (
        "import time\nfrom genie_python import genie as g\ng.begin()\n"
        "while g.get_uamps() < 10:\n    time.sleep(60)\ng.end()\n"
    )
    result = dry(source)
    assert result["ok"]
    assert_virtual(result, 900, slack=60)  # polled once a minute


def test_GIVEN_block_never_set_WHEN_read_THEN_plausible_value_and_warning():
    source = "from genie_python import genie as g\nt = g.cget('Temp_Sample')['value']\nx = 2 / t\n"
    result = dry(source)
    assert result["ok"], result["error"]
    (warning,) = result["warnings"]
    assert warning.startswith("line 2: block 'Temp_Sample'")
    assert preflight_record(result, [], 1)["verdict"] == "warnings"


def test_GIVEN_wait_on_beam_without_a_run_WHEN_dry_run_THEN_warned():
    result = dry("from genie_python import genie as g\ng.waitfor_uamps(5)\n")
    assert result["ok"] and any("no run is counting" in w for w in result["warnings"])


def test_GIVEN_misspelt_genie_call_WHEN_dry_run_THEN_fails_at_its_line():
    result = dry("from genie_python import genie as g\ng.begin()\ng.waitfor_uamp(5)\n")
    assert not result["ok"] and result["error"]["line"] == 3
    assert "waitfor_uamp" in result["error"]["message"]


def test_GIVEN_command_called_with_computed_bad_value_WHEN_preflighted_THEN_parameter_named():
    catalogue = Catalogue([COMMANDS])
    source = "energies = ['fast', 30]\nfor e in energies:\n    set_ei(energy=e)\n"
    result = run_dry(
        source,
        commands=catalogue.job_commands(),
        command_dirs=[COMMANDS],
        job_python=sys.executable,
        time_limit=120,
    )
    refused = check_calls(catalogue, result["calls"])
    assert refused is not None and refused["line"] == 3
    assert "energy" in refused["message"] and "'fast'" in refused["message"]
    assert check_calls(catalogue, [{"name": "set_ei", "args": [30], "kwargs": {}}]) is None
