"""Every command of the test instrument runs as a job, or is refused at submit with why.

The IOC serves tests/corpus/instrument (ISIS idioms: packages, re-exports, commands made by
wrappers in a locals() loop, a partial, a decorator result, a file called io.py, modules
that cannot be imported). Over Channel Access: the checker's view reaches COMMANDS and
COMMANDS:ERRORS, each importable command runs to DONE in a real job process, and a
command whose module cannot be imported is refused at QUEUE:ADD with the import error.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CA_TIMEOUT, wait_until

from scriptserver_ioc.client.client import ClientError, ScriptServerClient

INSTRUMENT = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "instrument"

# one call per importable command of the corpus (required arguments filled in)
CALLS = [
    "measure('water', uamps=0.1)",
    "set_lrange('0.65-12.95')",
    "setup_dae_scanning12()",
    "scan('theta', 0, 1, count=3)",
    "last_scan()",
    "flipper1(1)",
    "run_angle('D2O', 0.7)",
    "transmission('D2O')",
    "autoheight('D2O')",
    "set_name_sample_par('water')",
    "set_temp_sample_par(4.2)",
    "begin_precmd(quiet=True)",
    "scan_points('theta', 0, 1)",
    "fine_scan('theta', 0, 1)",
    "quick_count(frames=5)",
    "save_table('positions.dat')",
    "format_report('done')",
    "sd_emu_scan(5, 10, 1, global_params={'Rate (Mev/hr)': 100})",  # positional, as bound
    "sd_enum_status(process_status='ok')",
    "do_sans('water', uamps=0.5)",
    "set_aperture('small')",
    "set_sample_position('2CB')",  # its module reads PVs nobody serves: 15 s to import
    "sleep(0)",
    "specific_spectra([[4], [1000, 1001]])",
    "alert_on_error('beam lost', False)",
    "setup_dae_transmission()",
    "SETUP_DAE_TRANSMISSION()",
    "setup_dae_event()",
    "SETUP_DAE_EVENT()",
    "ascan('theta', 0, 1, count=3)",
    "dscan('theta', -1, 1)",
]
SCRIPTS = [  # script definitions called from a script, by position, as the catalogue binds
    "sd_emu_scan('2', '3', '1', '5', 'LF')\nsd_enum_status('still_okay')\n",
]
UNIMPORTABLE = {
    "reduce_run(42)": "No module named 'scriptserver_missing_analysis_package'",
    "polarised_run('x')": "attempted relative import with no known parent package",
}


@pytest.fixture
def instrument(start_ioc):
    ioc = start_ioc(commands=INSTRUMENT)
    client = ScriptServerClient(ioc.prefix, timeout=CA_TIMEOUT)
    client.put("QUEUE:HOLD", 0)
    # the checker's view arrives with the watcher's first check, module by module
    called = {call.split("(")[0] for call in [*CALLS, *UNIMPORTABLE]}
    wait_until(lambda: called <= {c["name"] for c in client.get_json("COMMANDS")}, timeout=20)
    return client


def test_GIVEN_test_instrument_WHEN_every_command_runs_as_a_job_THEN_all_done(instrument):
    pytest.importorskip("genie_python")  # the script definitions need it, as ISIS's do
    names = {c["name"]: c for c in instrument.get_json("COMMANDS")}
    called = {call.split("(")[0] for call in [*CALLS, *UNIMPORTABLE]}
    assert called == set(names), "every served command is exercised here"
    # sans2d is named slow once the job interpreter has spent 3 s importing it
    wait_until(
        lambda: any(e.get("environment") == "job" for e in instrument.get_json("COMMANDS:ERRORS")),
        timeout=20,
    )
    errors = instrument.get_json("COMMANDS:ERRORS")
    # import failures, a default outside the choices, a file named like a stdlib module, a
    # module slow to import
    expected = {
        "needs_mantid.py",
        "flat_relative.py",
        "sd_enum_status.py",
        "io.py",
        "sans2d/__init__.py",
    }
    assert {Path(e["file"]).relative_to(INSTRUMENT).as_posix() for e in errors} == expected

    ids = []
    for call in CALLS:
        (job_id,) = instrument.add(call)
        ids.append((job_id, call))
    for script in SCRIPTS:
        (job_id,) = instrument.add({"script": script})
        ids.append((job_id, script))
    last_id = ids[-1][0]
    wait_until(lambda: instrument.get("LAST:ID") == last_id, timeout=120)
    history = {job["id"]: job for job in instrument.get_json("HISTORY")}
    failed = {call: history[i].get("error") for i, call in ids if history[i]["state"] != "DONE"}
    assert failed == {}


@pytest.mark.parametrize("call", sorted(UNIMPORTABLE))
def test_GIVEN_command_of_unimportable_module_WHEN_queued_THEN_refused_with_import_error(
    instrument, call
):
    with pytest.raises(ClientError, match=UNIMPORTABLE[call]):
        instrument.add(call)
    assert instrument.queue() == []


def test_GIVEN_definition_reading_global_params_WHEN_queued_THEN_estimate_uses_them(instrument):
    pytest.importorskip("genie_python")
    instrument.put("QUEUE:HOLD", 1)
    # estimate_time: mevents * points / (rate / 3600): 6 points of 10 Mev
    instrument.add("sd_emu_scan('5', '10', '1', global_params={'Rate (Mev/hr)': 100})")
    instrument.add("sd_emu_scan('5', '10', '1')")  # the definition's default rate, 110

    wait_until(lambda: all(j.get("estimate") is not None for j in instrument.queue()), 20)
    estimates = [j["estimate"] for j in instrument.queue()]

    assert estimates == pytest.approx([10 * 6 / (100 / 3600), 10 * 6 / (110 / 3600)])


def test_GIVEN_running_ioc_WHEN_command_file_edited_to_fail_import_THEN_reported_and_refused(
    start_ioc, tmp_path
):
    commands = tmp_path / "commands"
    commands.mkdir()
    source = commands / "sample_changer.py"
    good = 'def change_sample(slot: int = 1):\n    """Move the changer to a slot."""\n'
    source.write_text(good, encoding="utf-8")
    ioc = start_ioc(commands=commands)
    client = ScriptServerClient(ioc.prefix, timeout=CA_TIMEOUT)
    client.put("QUEUE:HOLD", 1)
    assert client.add("change_sample(2)")

    # the scientist saves a version that needs a package the job interpreter lacks
    source.write_text("import scriptserver_no_such_driver\n" + good, encoding="utf-8")
    # the checker's verdict (with its line); the warm-up's, in the job's environment, may
    # come first, and then the two are one entry
    wait_until(lambda: [e for e in client.get_json("COMMANDS:ERRORS") if e["line"]], timeout=20)

    (error,) = client.get_json("COMMANDS:ERRORS")
    assert error["line"] == 1 and "scriptserver_no_such_driver" in error["message"]
    (entry,) = client.get_json("COMMANDS")
    assert "scriptserver_no_such_driver" in entry["import_error"]
    with pytest.raises(ClientError, match="No module named 'scriptserver_no_such_driver'"):
        client.add("change_sample(3)")

    source.write_text(good, encoding="utf-8")  # fixed: served and accepted again
    wait_until(lambda: not client.get_json("COMMANDS:ERRORS"), timeout=20)
    assert client.add("change_sample(3)")
    assert len(client.queue()) == 2


SCRIPTS_DIR = INSTRUMENT / "scripts"  # jobs, not commands (no __init__.py: not read)


def test_GIVEN_script_with_a_genie_typo_WHEN_queued_THEN_refused_with_the_line_and_a_suggestion(
    instrument,
):
    pytest.importorskip("genie_python")
    script = (SCRIPTS_DIR / "genie_typo.py").read_text(encoding="utf-8")

    with pytest.raises(ClientError, match=r"line 13.*did you mean 'g\.waitfor_uamps'\?"):
        instrument.add({"script": script})
    assert instrument.queue() == []


def test_GIVEN_bad_value_through_a_variable_WHEN_dry_run_THEN_parameter_error_at_its_line(
    instrument,
):
    pytest.importorskip("genie_python")
    script = (SCRIPTS_DIR / "variable_bad_value.py").read_text(encoding="utf-8")

    result = instrument.validate({"script": script}, dry_run=True)

    assert result["ok"] is False
    error = result["dry_run"]["error"]
    assert error["line"] == 11 and error["type"] == "ParameterError"
    assert error["message"] == "waitfor_time: parameter 'seconds' expects float, got 'five minutes'"
