"""The test instrument (tests/corpus/instrument): real ISIS idioms, served right.

Each file of the corpus reproduces idioms of public ISIS instrument code (the source file is
named in each file's docstring). The catalogue reads it with a real checker process (the
live view), as the IOC does. The table below is the whole truth: every command of every
file, with how it was found, its parameters (name: default) and its description, and
nothing else.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scriptserver_ioc.catalogue import BindError, Catalogue
from scriptserver_ioc.catalogue.live import LiveChecker

INSTRUMENT = Path(__file__).parent / "corpus" / "instrument"
REQUIRED = object()

# command: (source file, found, {param: default or REQUIRED}, description)
EXPECTED = {
    # larmor/ package: star re-exports of sans (locals() loop) and scans (wrappers)
    "measure": (
        "larmor/__init__.py",
        "generated",
        {"title": REQUIRED, "uamps": 0.0, "thickness": 1.0},
        "Measure a sample.",
    ),
    "set_lrange": (
        "larmor/__init__.py",
        "generated",
        {"lrange": "0.9-13.25"},
        "Set the current wavelength range.",
    ),
    "setup_dae_scanning12": (
        "larmor/__init__.py",
        "generated",
        {},
        "Set the wiring tables for a scan where the entire main detector is contained in "
        "only two channels.",
    ),
    "scan": (
        "larmor/__init__.py",
        "generated",
        {"motion": REQUIRED, "start": 0.0, "stop": 1.0, "count": 5},
        "Scan a block from start to stop.",
    ),
    "last_scan": ("larmor/__init__.py", "generated", {}, "Show the last scan."),
    "flipper1": (
        "larmor/__init__.py",
        "re-export",
        {"state": 0},
        "Set the state of the spin flipper.",
    ),
    # refl/ package: static methods published by assignment, __all__ with classes
    "run_angle": (
        "refl/__init__.py",
        "alias",
        {"sample": REQUIRED, "angle": REQUIRED, "count_uamps": 20.0, "mode": "NR"},
        "Move to an angle and count.",
    ),
    "transmission": (
        "refl/__init__.py",
        "alias",
        {"sample": REQUIRED, "count_uamps": 20.0},
        "Measure a transmission run of a sample.",
    ),
    "autoheight": (
        "refl/__init__.py",
        "re-export",
        {"sample": REQUIRED},
        "Align the height of a sample with the laser.",
    ),
    # muon_begin_end.py: get_input reads the console, so it is a helper
    "set_name_sample_par": (
        "muon_begin_end.py",
        "def",
        {"name": REQUIRED},
        "Set the sample name.",
    ),
    "set_temp_sample_par": (
        "muon_begin_end.py",
        "def",
        {"temperature": 1.5},
        "Set the sample temperature parameter shown in the run title.",
    ),
    "begin_precmd": (
        "muon_begin_end.py",
        "def",
        {"quiet": False},
        "Ask for the sample details before a run begins.",
    ),
    # scan_tools.py: helpers of a class, a partial, a decorator result, stdlib sleep
    "scan_points": (
        "scan_tools.py",
        "def",
        {"motion": REQUIRED, "start": REQUIRED, "stop": REQUIRED, "count": 10, "frames": 100},
        "Scan a motion over evenly spaced points.",
    ),
    "fine_scan": (
        "scan_tools.py",
        "partial",
        {"motion": REQUIRED, "start": REQUIRED, "stop": REQUIRED, "count": 50, "frames": 100},
        "Scan a motion over evenly spaced points.",
    ),
    "quick_count": (
        "scan_tools.py",
        "generated",
        {"frames": 100, "title": "quick"},
        "Count frames with a title.",
    ),
    # io.py shadows the standard library; uses_stdlib_io.py needs the real io
    "save_table": ("io.py", "def", {"name": "table.dat"}, "Save the current table of positions."),
    "format_report": (
        "uses_stdlib_io.py",
        "def",
        {"title": "report"},
        "Format a report title through the standard library's StringIO.",
    ),
    # script definitions (ScriptDefinitions idioms): help built at run time, global params
    "sd_emu_scan": (
        "sd_emu_scan.py",
        "class",
        {
            "start_temperature": "1.5",
            "stop_temperature": "1.5",
            "step_temperature": "0",
            "mevents": "10",
            "magnet_device": "ZF",
            "global_params": {"Rate (Mev/hr)": "110"},
        },
        "Scan the temperature in steps, counting the same number of events at each point. "
        "Magnet device must be one of ['ZF', 'LF', 'TF'].",
    ),
    "sd_enum_status": (
        "sd_enum_status.py",
        "class",
        {"process_status": "not_working"},
        "Check the 3 process states.",
    ),
    # a start-up file star-importing a nested instrument folder (globals() loop inside)
    "do_sans": (
        "zoom_setup.py",
        "generated",
        {"title": REQUIRED, "uamps": 10.0},
        "Measure small-angle scattering of a sample.",
    ),
    "set_aperture": ("zoom_setup.py", "generated", {"size": "large"}, "Set the beam aperture."),
    # sans2d/: a module that reads PVs at import (15 s in a job where nobody serves them)
    "set_sample_position": (
        "sans2d/__init__.py",
        "generated",
        {"position": "1CB"},
        "Move the sample changer to a named position.",
    ),
    # names a scientist types that look like helpers (issue 22): a class's `sleep` a
    # package star-exports, a factory a package re-exports by name, a conditional input()
    "sleep": (
        "larmor/__init__.py",
        "re-export",
        {"seconds": REQUIRED},
        "Override the sleep function to use the instrument's wait.",
    ),
    "specific_spectra": (
        "loq/__init__.py",
        "re-export",
        {"spectra_list": REQUIRED, "preconfig": "lambda: None"},
        "Create a detector that counts over a given set of spectrum numbers.",
    ),
    "alert_on_error": (
        "utilities_io.py",
        "def",
        {"error_msg": REQUIRED, "prompt_user": REQUIRED},
        "Send an error message as an alert, and optionally ask whether to go on.",
    ),
    # loq/: a locals() loop in both cases; scans.py imports one of its names by name
    "setup_dae_transmission": (
        "loq/__init__.py",
        "generated",
        {},
        "Set up the DAE for a transmission measurement.",
    ),
    "SETUP_DAE_TRANSMISSION": (
        "loq/__init__.py",
        "generated",
        {},
        "Set up the DAE for a transmission measurement.",
    ),
    "setup_dae_event": (
        "loq/__init__.py",
        "generated",
        {},
        "Set up the DAE for an event-mode SANS measurement.",
    ),
    "SETUP_DAE_EVENT": (
        "loq/__init__.py",
        "generated",
        {},
        "Set up the DAE for an event-mode SANS measurement.",
    ),
    "ascan": (
        "loq/__init__.py",
        "generated",
        {"motion": REQUIRED, "start": REQUIRED, "stop": REQUIRED, "count": 10},
        "Scan a block between absolute positions.",
    ),
    "dscan": (
        "loq/__init__.py",
        "generated",
        {"motion": REQUIRED, "before": REQUIRED, "after": REQUIRED, "count": 10},
        "Scan a block relative to where it is.",
    ),
    # modules that cannot be imported: served, marked, refused at submit
    "reduce_run": (
        "needs_mantid.py",
        "def",
        {"run_number": REQUIRED},
        "Reduce a run with the analysis package.",
    ),
    "polarised_run": ("flat_relative.py", "def", {"title": REQUIRED}, "Run with the flipper on."),
}

IMPORT_ERRORS = {
    "needs_mantid.py": (7, "No module named 'scriptserver_missing_analysis_package'"),
    "flat_relative.py": (6, "attempted relative import with no known parent package"),
}
NOTICES = {
    "io.py": (None, "'io.py' has the name of the standard-library module 'io'"),
}
DEFINITION_ERRORS = {
    "sd_enum_status.py": (
        20,
        "script definition 'sd_enum_status': the default 'not_working' of parameter "
        "'process_status' is not one of its allowed values (ok, still_okay, "
        "definitely_not_okay)",
    ),
}


@pytest.fixture(scope="module")
def catalogue():
    pytest.importorskip("genie_python")  # the script definitions import it, as ISIS's do
    catalogue = Catalogue([INSTRUMENT], live=LiveChecker(sys.executable, [INSTRUMENT]))
    catalogue.reload()  # the checker's view (the constructor reads syntax only)
    return catalogue


def relative(path: Path) -> str:
    return path.relative_to(INSTRUMENT).as_posix()


def test_GIVEN_test_instrument_WHEN_read_THEN_exactly_the_expected_commands(catalogue):
    assert sorted(catalogue.names()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_GIVEN_test_instrument_WHEN_read_THEN_command_has_its_params_and_description(
    catalogue, name
):
    source, found, params, description = EXPECTED[name]
    command = catalogue.get(name)
    entry = command.to_json()

    assert relative(command.path) == source
    assert entry["found"] == found
    assert entry["description"] == description
    assert [p["name"] for p in entry["params"]] == list(params)
    for param in entry["params"]:
        expected = params[param["name"]]
        if expected is REQUIRED:
            assert param["required"] is True, param
        else:
            assert param["required"] is False and param["default"] == expected, param


def test_GIVEN_modules_that_cannot_import_WHEN_read_THEN_errors_and_entries_say_why(catalogue):
    errors = {relative(Path(e["file"])): e for e in catalogue.errors}

    assert set(errors) == set(IMPORT_ERRORS) | set(DEFINITION_ERRORS) | set(NOTICES)
    for file, (line, text) in {**IMPORT_ERRORS, **DEFINITION_ERRORS, **NOTICES}.items():
        assert errors[file]["line"] == line
        assert text in errors[file]["message"]
    assert "scriptserver_missing_analysis_package" in catalogue.get("reduce_run").import_error
    assert catalogue.get("scan").import_error is None


def test_GIVEN_command_of_unimportable_module_WHEN_bound_THEN_refused_with_the_import_error(
    catalogue,
):
    with pytest.raises(BindError, match="No module named 'scriptserver_missing_analysis_"):
        catalogue.bind("reduce_run", [42], {})
    assert catalogue.bind("scan", ["theta"], {"count": "3"}) == {
        "motion": "theta",
        "start": 0.0,
        "stop": 1.0,
        "count": 3,
    }


def test_GIVEN_static_read_only_WHEN_names_need_the_checker_THEN_they_are_not_guessed():
    static = Catalogue([INSTRUMENT])  # no checker: only what the syntax tree settles

    names = set(static.names())

    assert {"fine_scan", "flipper1", "autoheight", "scan_points"} <= names
    assert not names & {"scan", "measure", "quick_count", "run_angle"}
    assert {Path(e["file"]).name for e in static.errors} == set(DEFINITION_ERRORS) | set(NOTICES)


def test_GIVEN_script_definition_WHEN_bound_by_position_or_with_global_params_THEN_strings(
    catalogue,
):
    bound = catalogue.bind("sd_emu_scan", [5, "10", 0.5], {"global_params": {"Rate (Mev/hr)": 200}})

    assert bound == {
        "start_temperature": "5",
        "stop_temperature": "10",
        "step_temperature": "0.5",
        "mevents": "10",
        "magnet_device": "ZF",
        "global_params": {"Rate (Mev/hr)": "200"},
    }
    assert catalogue.bind("sd_emu_scan", [], {})["global_params"] == {"Rate (Mev/hr)": "110"}
    with pytest.raises(BindError, match="unknown 'Rate'; known: Rate \\(Mev/hr\\)"):
        catalogue.bind("sd_emu_scan", [], {"global_params": {"Rate": 1}})
    with pytest.raises(BindError, match="takes at most 5 positional arguments"):
        catalogue.bind("sd_emu_scan", list("123456"), {})


README = Path(__file__).resolve().parent.parent / "docs" / "instrument-code.md"
TABLE_START = "<!-- corpus-table:start -->"
TABLE_END = "<!-- corpus-table:end -->"


def corpus_table(catalogue) -> str:
    """docs/instrument-code.md's per-file table of the test instrument, from the catalogue."""
    rows: dict[str, list[int]] = {}
    sources = [relative(path) for path in catalogue.sources()]
    for source in sources:
        rows[source] = [0, 0, 0]
    for command in catalogue.commands():
        row = rows[relative(command.path)]
        row[1 if command.kind == "script_definition" else 0] += 1
    for error in catalogue.errors:
        rows[relative(Path(error["file"]))][2] += 1
    lines = [
        "| source file | commands served | definitions served | problems reported |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{name}` | {a} | {b} | {c} |" for name, (a, b, c) in rows.items()]
    totals = [sum(row[i] for row in rows.values()) for i in range(3)]
    lines.append(f"| **{len(rows)} sources read** | {totals[0]} | {totals[1]} | {totals[2]} |")
    return "\n".join(lines)


def test_GIVEN_readme_WHEN_read_THEN_corpus_table_matches_the_catalogue(catalogue):
    text = README.read_text(encoding="utf-8")
    table = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()

    expected = corpus_table(catalogue)
    assert table == expected, f"the table in {README.name} should read:\n{expected}"
