"""Literal command calls inside scripts meet the command's own checks at submit.

``set_temperature(900)`` in a script is refused by ``validate_set_temperature`` at its line,
as the command job ``set_temperature(900)`` is; a script definition's ``parameters_valid``
is asked too. The companions run in the checker process, in the same round trip as the rest
of a batch.
"""

import sys
from pathlib import Path

import pytest

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.validate.companions import CompanionRunner
from scriptserver_ioc.validate.validator import Validator

COMMANDS = Path(__file__).parent / "validate_corpus" / "commands"


class CountingRunner(CompanionRunner):
    """A real CompanionRunner that counts its round trips and the calls it was asked."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: list[int] = []

    def check(self, *args, **kwargs):
        self.asked.append(1)
        return super().check(*args, **kwargs)

    def check_many(self, items, **kwargs):
        self.asked.append(len(items))
        return super().check_many(items, **kwargs)


@pytest.fixture(scope="module")
def runner():
    runner = CountingRunner(sys.executable, [str(COMMANDS)])
    yield runner
    runner.close()


@pytest.fixture
def validator(runner):
    runner.asked.clear()
    return Validator(Catalogue([COMMANDS]), runner)


def script(text):
    return {"kind": "script", "script": text}


def test_GIVEN_script_call_out_of_validate_range_WHEN_checked_THEN_refused_at_its_line(validator):
    verdict = validator.check(
        script("count(minutes=1)\nfor i in range(3):\n    set_temperature(900)\n")
    )
    assert verdict.errors == [
        {
            "line": 3,
            "col": 5,
            "message": "set_temperature(900): temperature 900 K is out of range 1.5 to 300 K",
        }
    ]
    assert verdict.estimate is None
    command_job = validator.check({"command": "set_temperature", "args": [900]})
    assert command_job.errors[0]["message"].endswith(
        "temperature 900 K is out of range 1.5 to 300 K"
    )


def test_GIVEN_script_calls_within_range_WHEN_checked_THEN_accepted(validator):
    verdict = validator.check(script("set_temperature(20)\ncount(minutes=2, title='a')\n"))
    assert verdict.ok, verdict.errors
    assert validator.companions.asked == [2]  # both calls, one round trip


def test_GIVEN_script_definition_call_WHEN_parameters_invalid_THEN_refused_naming_the_rule(
    validator,
):
    pytest.importorskip("genie_python")
    verdict = validator.check(
        script(
            "temperature_scan(start=10, stop=40, step=10)\ntemperature_scan(start=40, stop=10)\n"
        )
    )
    assert [(e["line"], e["message"]) for e in verdict.errors] == [
        (2, "temperature_scan(start=40, stop=10): stop must not be below start")
    ]


def test_GIVEN_non_literal_arguments_WHEN_checked_THEN_left_to_the_dry_run(validator):
    verdict = validator.check(script("t = 900\nset_temperature(t)\n"))
    assert verdict.ok
    assert validator.companions.asked == []


def test_GIVEN_call_whose_module_the_checker_cannot_import_WHEN_checked_THEN_warning_only(
    validator,
):
    verdict = validator.check(script("needs_missing(2)\n"))
    assert verdict.ok
    assert len(verdict.warnings) == 1
    assert verdict.warnings[0].startswith("line 1: needs_missing(2): cannot check the arguments")


def test_GIVEN_call_with_validate_that_raises_WHEN_checked_THEN_refused_with_its_message(
    validator,
):
    verdict = validator.check(script("\nfragile(0)\n"))
    assert verdict.errors[0]["line"] == 2
    assert verdict.errors[0]["message"].startswith("fragile(0): validate_fragile raised Zero")


def test_GIVEN_batch_of_scripts_and_commands_WHEN_checked_at_once_THEN_one_round_trip_same_verdicts(
    validator,
):
    jobs = [
        script("set_temperature(900)\n"),
        {"command": "set_temperature", "args": [20]},
        script("count(minutes=0)\ncount(minutes=3)\n"),
        script("print('no commands')\n"),
    ]
    batch = validator.check_many(jobs)
    assert validator.companions.asked == [4]
    one_by_one = [validator.check(job) for job in jobs]
    assert batch == one_by_one
    assert [v.ok for v in batch] == [False, True, False, True]
    assert batch[2].errors[0]["line"] == 1
    assert batch[2].errors[0]["message"].startswith("count(minutes=0): ")


def test_GIVEN_script_WHEN_asked_if_quick_THEN_never_checked_on_the_caller_thread(validator):
    assert not validator.is_quick(script("set_temperature(20)\n"))
