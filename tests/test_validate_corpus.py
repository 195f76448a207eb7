"""A corpus of broken jobs: each is rejected or reported with the right line and message."""

import json
import re
import sys
from pathlib import Path

import pytest

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.validate.companions import CompanionRunner
from scriptserver_ioc.validate.validator import Validator

CORPUS = Path(__file__).parent / "validate_corpus"
COMMANDS = CORPUS / "commands"
EXPECT = re.compile(r"# expect: (error|warning|dry-run|no-warning) (?:line=(\d+) )?(.*)")


@pytest.fixture(scope="module")
def validator():
    catalogue = Catalogue([COMMANDS])
    assert catalogue.errors == []
    companions = CompanionRunner(sys.executable, [str(COMMANDS)])
    yield Validator(catalogue, companions)
    companions.close()


def expectations(path):
    found = []
    for line in path.read_text().splitlines():
        match = EXPECT.match(line)
        if match:
            kind, number, text = match.groups()
            found.append((kind, int(number) if number else None, text.strip()))
    assert found, f"{path.name} has no '# expect:' line"
    return found


SCRIPTS = sorted((CORPUS / "scripts").glob("*.txt"))


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_GIVEN_corpus_script_WHEN_validated_THEN_reported_at_expected_line(validator, path):
    job = {"kind": "script", "script": path.read_text()}
    verdict = validator.check(job)
    expected = expectations(path)
    if not any(kind == "error" for kind, _, _ in expected):
        assert verdict.errors == [], verdict.errors
    for kind, line, text in expected:
        if kind == "error":
            assert verdict.estimate is None and not verdict.ok
            assert any(e["line"] == line and text in e["message"] for e in verdict.errors), (
                verdict.errors
            )
        elif kind == "warning":
            assert any(w.startswith(f"line {line}: ") and text in w for w in verdict.warnings), (
                verdict.warnings
            )
        elif kind == "no-warning":
            assert not any(f"'{text}'" in w for w in verdict.warnings), verdict.warnings
        else:
            result = validator.dry_run(job, time_limit=60)
            assert result["ok"] is False and result["estimate"] is None
            assert result["error"]["line"] == line, result["error"]
            assert text in result["error"]["message"], result["error"]
            full = verdict.to_result("r1", result)
            assert full["ok"] is False
            assert full["errors"][-1]["line"] == line


CASES = json.loads((CORPUS / "command_jobs.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["error"][:40] for c in CASES])
def test_GIVEN_broken_command_job_WHEN_validated_THEN_rejected_with_message(validator, case):
    verdict = validator.check(case["job"])
    assert not verdict.ok
    assert case["error"] in verdict.errors[0]["message"], verdict.errors
    assert verdict.estimate is None
