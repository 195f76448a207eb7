"""The pre-flight corpus: broken jobs caught at the right line, no false alarm on good ones.

Each job goes through what happens before its turn: the checks at submit (an error there
rejects it, so it never runs) and the pre-flight dry run (``validate.preflight.preflight``).
"""

from __future__ import annotations

import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.validate.companions import CompanionRunner
from scriptserver_ioc.validate.preflight import preflight
from scriptserver_ioc.validate.validator import Validator

pytest.importorskip("genie_python")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).parent / "preflight_corpus"
EXPECT = re.compile(r"# expect: line (\d+)")
TRACES = [  # what the effects corpus would leave behind if its dry runs acted
    Path.home() / "scriptserver_corpus_results",
    Path.home() / "scriptserver_corpus_reduced",
    Path("field_scan.log").resolve(),
    Path("field_scan.png").resolve(),
]
TRACES_BEFORE = {path: path.exists() for path in TRACES}  # at collection, before any dry run


@pytest.fixture(scope="module")
def verdicts():
    catalogue = Catalogue([ROOT / "commands"])
    companions = CompanionRunner(sys.executable, [str(ROOT / "commands")])
    # none of the corpus hangs: the limit only has to outlast a loaded machine
    validator = Validator(catalogue, companions, dry_run_time_limit=120)

    def verdict(path):
        job = {"kind": "script", "script": path.read_text()}
        checked = validator.check(job)
        if checked.errors:  # rejected at submit: it never gets a turn
            first = checked.errors[0]
            return path, {"verdict": "fails", "line": first["line"], "message": first["message"]}
        job["warnings"] = checked.warnings
        return path, preflight(validator, job, job["script"], "<script>", catalogue.revision)

    paths = sorted(CORPUS.glob("*/*.txt"))
    with ThreadPoolExecutor(2) as pool:
        found = dict(pool.map(verdict, paths))
    companions.close()
    return found


def test_GIVEN_broken_corpus_WHEN_preflighted_THEN_at_least_95_percent_fail_at_the_right_line(
    verdicts,
):
    broken = {p: v for p, v in verdicts.items() if p.parent.name == "broken"}
    assert len(broken) >= 20
    missed = []
    for path, record in broken.items():
        line = int(EXPECT.match(path.read_text()).group(1))
        if record["verdict"] != "fails" or record["line"] != line:
            missed.append((path.name, line, record["verdict"], record["line"], record["message"]))
    caught = 1 - len(missed) / len(broken)
    print(f"pre-flight corpus: {len(broken) - len(missed)}/{len(broken)} caught ({caught:.0%})")
    assert caught >= 0.95, missed


def test_GIVEN_good_corpus_WHEN_preflighted_THEN_no_false_alarm(verdicts):
    good = {p: v for p, v in verdicts.items() if p.parent.name == "good"}
    assert len(good) >= 8
    alarms = [(p.name, v) for p, v in good.items() if v["verdict"] not in ("ok", "warnings")]
    assert alarms == []


def test_GIVEN_bad_argument_inside_script_WHEN_preflighted_THEN_message_names_the_parameter(
    verdicts,
):
    by_name = {p.name: v for p, v in verdicts.items()}
    assert "temperature" in by_name["wrong_type_literal.txt"]["message"]
    assert "seconds" in by_name["computed_type_error.txt"]["message"]
    assert "500" in by_name["validate_range_literal.txt"]["message"]
    assert "position 12" in by_name["definition_invalid.txt"]["message"]


def test_GIVEN_scripts_with_effects_WHEN_preflighted_THEN_never_fails_and_nothing_done(verdicts):
    """Results CSVs, moved files, a reduction program, a chat post, a mail: ok or unknown."""
    effects = {p.name: v for p, v in verdicts.items() if p.parent.name == "effects"}
    assert len(effects) >= 6
    alarms = {n: v for n, v in effects.items() if v["verdict"] not in ("ok", "warnings", "unknown")}
    assert alarms == {}
    reduction = effects["reduction_program.txt"]
    assert reduction["verdict"] == "unknown"
    assert reduction["message"] == (
        "line 9 runs a program (`reduce_sans.exe`); not checked past it"
    )
    assert effects["notify_chat.txt"]["message"].startswith(
        "line 10 sends a request to `https://chat.example.org/hooks/instrument`"
    )
    assert effects["email_contact.txt"]["message"].startswith(
        "line 14 connects to a mail server (`mail.example.org:25`)"
    )
    csv = effects["results_csv.txt"]
    assert csv["verdict"] in ("ok", "warnings"), csv
    scratch = [w for w in csv["withheld"] if w.startswith("wrote ")]
    assert len(scratch) == 1 and "temperature_scan.csv" in scratch[0], csv["withheld"]
    assert "would write `temperature` = 20 (line 12)" in csv["withheld"]  # g.cset
    assert any(w.startswith("would make the directory") for w in csv["withheld"])
    assert effects["plot_and_log.txt"]["verdict"] in ("ok", "warnings")
    assert effects["move_old_files.txt"]["verdict"] in ("ok", "warnings")
    assert {path: path.exists() for path in TRACES} == TRACES_BEFORE
