"""Estimate helpers: precedence, job keys, progress, remaining time, queue ETA, groups."""

from datetime import datetime, timezone

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


@pytest.mark.parametrize(
    ("elapsed", "estimate", "expected"),
    [(30, 60, 50.0), (0, 60, 0.0), (90, 60, 99.0), (10, 0, 99.0), (10, None, None)],
)
def test_GIVEN_elapsed_and_estimate_WHEN_progress_derived_THEN_capped_at_99(
    elapsed, estimate, expected
):
    assert est.progress_from_elapsed(elapsed, estimate) == expected


def test_GIVEN_only_estimate_WHEN_remaining_asked_THEN_estimate_minus_elapsed_never_negative():
    assert est.remaining(100, 30) == 70
    assert est.remaining(100, 130) == 0.0
    assert est.remaining(None, 30) is None


def test_GIVEN_only_progress_WHEN_remaining_asked_THEN_extrapolated_from_the_rate():
    assert est.remaining(None, 30, progress=25) == pytest.approx(90)
    assert est.remaining(None, 30, progress=100) == 0.0
    assert est.remaining(None, 30, progress=0) is None


def test_GIVEN_estimate_and_progress_WHEN_remaining_asked_THEN_blend_trusts_progress_as_it_grows():
    # estimate says 70 s left; a job at 75 % after 30 s says 10 s left
    blended = est.remaining(100, 30, progress=75)
    assert blended == pytest.approx(0.25 * 70 + 0.75 * 10)
    assert est.remaining(100, 30, progress=1) == pytest.approx(0.99 * 70 + 0.01 * 2970)


STEPS = [
    {"line": 1, "t": 0.0, "what": "set_temperature(10) ~300 s"},
    {"line": 2, "t": 300.0, "what": "sleep 60 s"},
    {"line": 1, "t": 360.0, "what": "set_temperature(20) ~300 s"},
    {"line": 2, "t": 660.0, "what": "sleep 60 s"},
    {"line": 3, "t": 720.0, "what": "print('done')"},
]


def test_GIVEN_timeline_WHEN_line_and_elapsed_known_THEN_position_in_the_matching_step():
    # second iteration's line 1 starts at 360 s of 720 s
    assert est.timeline_progress(STEPS, 1, 400, 720) == pytest.approx(100 * 400 / 720)
    # a slower real run: still in line 1 after 700 s, clamped to that step's end (660 s)
    assert est.timeline_progress(STEPS, 1, 700, 720) == pytest.approx(100 * 660 / 720)
    assert est.timeline_progress(STEPS, 3, 800, 720) == 99.0
    assert est.timeline_progress(STEPS, 42, 10, 720) is None
    assert est.timeline_progress(STEPS, 1, 10, None) is None


def test_GIVEN_tracker_WHEN_lines_arrive_in_order_THEN_progress_follows_the_iterations():
    tracker = est.TimelineTracker([(s["line"], s["t"]) for s in STEPS], 720)
    assert tracker.update(1, 0) == 0.0
    assert tracker.update(1, 150) == pytest.approx(100 * 150 / 720)
    # the real run is slow: second iteration's line 1 reached at 500 s instead of 360 s
    assert tracker.update(2, 420) == pytest.approx(100 * 300 / 720)
    assert tracker.update(1, 500) == pytest.approx(100 * 360 / 720)
    assert tracker.update(1, 560) == pytest.approx(100 * 420 / 720)
    assert tracker.update(99, 600) == pytest.approx(100 * 460 / 720)  # unknown line: keep going
    assert tracker.update(3, 1000) == 99.0


def test_GIVEN_queue_WHEN_eta_summed_THEN_unknown_estimates_count_zero():
    assert est.queue_eta(30, [60, None, -1, 10]) == 100.0
    assert est.queue_eta(None, []) == 0.0


def test_GIVEN_eta_WHEN_finish_formatted_THEN_time_of_day_with_day_offset():
    now = datetime(2026, 11, 28, 22, 0, 0, tzinfo=timezone.utc)
    assert est.queue_finish(3600, now) == "23:00:00"
    assert est.queue_finish(4 * 3600 + 5, now) == "02:00:05 +1d"
    assert est.queue_finish(3600, now, idle=True) == "-"
    assert est.queue_finish(None, now) == "-"


def test_GIVEN_batch_jobs_WHEN_grouped_THEN_counts_and_queued_estimates_per_group():
    jobs = [
        {"state": "DONE", "estimate": 60, "tags": {"group": "T scan", "index": 0, "count": 4}},
        {"state": "QUEUED", "estimate": 60, "tags": {"group": "T scan", "index": 1, "count": 4}},
        {"state": "QUEUED", "estimate": None, "tags": {"group": "T scan", "index": 2, "count": 4}},
        {"estimate": 30, "tags": {"group": "T scan", "index": 3, "count": 4}},
        {"state": "QUEUED", "estimate": 5, "tags": {"group": "align"}},
        {"state": "QUEUED", "estimate": 5, "tags": {}},
        {"state": "QUEUED", "estimate": 5},
    ]
    assert est.group_estimates(jobs) == {
        "T scan": {"count": 4, "queued": 3, "estimate": 90.0, "unknown": 1},
        "align": {"count": 1, "queued": 1, "estimate": 5.0, "unknown": 0},
    }


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
