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
from conftest import wait_until

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
]
UNIMPORTABLE = {
    "reduce_run(42)": "No module named 'scriptserver_missing_analysis_package'",
    "polarised_run('x')": "attempted relative import with no known parent package",
}


@pytest.fixture
def instrument(start_ioc):
    ioc = start_ioc(commands=INSTRUMENT)
    client = ScriptServerClient(ioc.prefix)
    client.put("QUEUE:HOLD", 0)
    # the checker's view arrives with the watcher's first check
    wait_until(lambda: "scan" in {c["name"] for c in client.get_json("COMMANDS")}, timeout=20)
    return client


def test_GIVEN_test_instrument_WHEN_every_command_runs_as_a_job_THEN_all_done(instrument):
    names = {c["name"]: c for c in instrument.get_json("COMMANDS")}
    called = {call.split("(")[0] for call in [*CALLS, *UNIMPORTABLE]}
    assert called == set(names), "every served command is exercised here"
    errors = instrument.get_json("COMMANDS:ERRORS")
    assert {Path(e["file"]).name for e in errors} == {"needs_mantid.py", "flat_relative.py"}

    ids = []
    for call in CALLS:
        (job_id,) = instrument.add(call)
        ids.append((job_id, call))
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
