"""Estimate helpers: precedence, job keys, learned durations."""

import pytest

from scriptserver_ioc.validate import estimates as est


def test_GIVEN_history_declared_and_dry_run_WHEN_chosen_THEN_history_wins():
    assert est.choose_estimate([100, 110, 400], declared=60, dry_run=70) == (110.0, "history")


def test_GIVEN_no_history_WHEN_chosen_THEN_declared_then_dry_run_then_none():
    assert est.choose_estimate([], declared=60, dry_run=70) == (60.0, "declared")
    assert est.choose_estimate(None, declared=None, dry_run=70) == (70.0, "dry-run")
    assert est.choose_estimate(None) == (None, "none")


def test_GIVEN_more_than_twenty_runs_WHEN_median_taken_THEN_only_the_last_twenty_count():
    durations = [1000.0] * 30 + [10.0] * 20
    assert est.median_duration(durations) == 10.0
    assert est.median_duration([5, None, -1, 7]) == 6.0
    assert est.median_duration([]) is None


def test_GIVEN_same_command_and_arguments_WHEN_keyed_THEN_same_key_regardless_of_order():
    a = est.job_key(
        {"kind": "command", "command": "set_ei", "args": {"energy": 25.0, "wait": True}}
    )
    b = est.job_key({"command": "set_ei", "args": {"wait": True, "energy": 25.0}})
    c = est.job_key(
        {"kind": "command", "command": "set_ei", "args": {"energy": 26.0, "wait": True}}
    )
    assert a == b != c
    assert a.startswith("command:")


def test_GIVEN_scripts_differing_only_in_trailing_space_WHEN_keyed_THEN_same_key():
    a = est.job_key({"kind": "script", "script": "count()\nsleep(1)\n"})
    b = est.job_key({"kind": "script", "script": "count()   \r\nsleep(1)\n\n"})
    c = est.job_key({"kind": "script", "script": "count()\nsleep(2)\n"})
    assert a == b != c


def test_GIVEN_file_job_WHEN_keyed_with_its_text_THEN_edited_file_is_another_job():
    job = {"kind": "file", "file": "scans/a.py"}
    assert est.job_key(job, "x = 1\n") != est.job_key(job, "x = 2\n")
    assert est.job_key(job, "x = 1\n") == est.job_key(job, "x = 1")


def test_GIVEN_memory_history_WHEN_more_than_keep_added_THEN_oldest_dropped():
    history = est.MemoryDurationHistory(keep=3)
    for seconds in (1, 2, 3, 4):
        history.add("k", seconds)
    assert history.durations("k") == [2.0, 3.0, 4.0]
    assert history.durations("other") == []


def test_GIVEN_runs_of_other_amounts_WHEN_estimated_THEN_learned_rate_times_the_new_amount():
    from pathlib import Path

    from scriptserver_ioc.catalogue import Catalogue
    from scriptserver_ioc.validate.validator import Validator

    commands = Path(__file__).resolve().parent.parent / "commands"
    history = est.MemoryDurationHistory()
    validator = Validator(Catalogue([commands]), history=history)
    for seconds, took in ((10, 12.0), (20, 23.0), (40, 43.0)):  # about 1.1 s per second
        job = {"kind": "command", "command": "count", "args": {"seconds": seconds, "title": "s"}}
        bound = dict(job, args=validator.check(job).args)
        for key, factor in validator.learning_keys(bound):
            history.add(key, took * factor)
    verdict = validator.check({"command": "count", "args": {"seconds": 100, "title": "s"}})
    assert verdict.estimate_source == "history"
    assert verdict.estimate == pytest.approx(100 * 23.0 / 20, rel=1e-6)  # the median rate
    same = validator.check({"command": "count", "args": {"seconds": 20, "title": "s"}})
    assert same.estimate == pytest.approx(23.0)  # its own runs first
    other = validator.check({"command": "count", "args": {"seconds": 100, "title": "x"}})
    assert other.estimate_source != "history"  # another title is another job
    assert est.scaled_key({"kind": "script", "script": "pass"}) is None
    assert est.scaled_key({"command": "c", "args": {"seconds": 1, "uamps": 2}}) is None
