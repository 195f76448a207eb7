"""Job progress from a timeline, a command's own progress and elapsed time (core.progress)."""

from __future__ import annotations

import pytest

from scriptserver_ioc.core.progress import JobProgress, LearnedTimelines

# a loop whose body is one line, as a dry run records it: line 3 every 0.25 s
LOOP = ([(3, 0.25 * i) for i in range(10)], 2.5)
# three commands on lines 1-3, each with internal steps at its line
COMMANDS = ([(1, 0.0), (1, 0.3), (1, 0.6), (2, 0.9), (2, 1.4), (3, 1.9)], 2.7)


def test_GIVEN_coalesced_one_line_loop_WHEN_time_passes_THEN_progress_follows_it():
    progress = JobProgress(2.5, LOOP)
    progress.line(3, 0.0)
    assert [round(progress.percent(t)) for t in (0.1, 0.6, 1.3, 2.4)] == [4, 24, 52, 96]


def test_GIVEN_commands_reporting_their_own_progress_THEN_placed_in_their_segment():
    progress = JobProgress(None, COMMANDS)
    progress.line(1, 0.0)
    progress.reported(50.0, "command", 1, 0.1)
    assert progress.percent(0.1) == pytest.approx(100 * 0.45 / 2.7)
    progress.line(2, 0.95)
    progress.reported(0.0, "command", 2, 0.95)  # the next command starts at 0 %
    assert progress.percent(0.95) == pytest.approx(100 * 0.9 / 2.7)
    progress.reported(80.0, "command", 2, 1.6)
    assert progress.percent(1.6) == pytest.approx(100 * (0.9 + 0.8) / 2.7)


def test_GIVEN_progress_going_back_THEN_published_value_never_decreases():
    progress = JobProgress(None, None, command_job=True)
    progress.reported(60.0, "command", None, 1.0)
    assert progress.percent(1.0) == 60.0
    progress.reported(20.0, "command", None, 2.0)
    assert progress.percent(2.0) == 60.0
    progress.reported(100.0, "command", None, 3.0)
    assert progress.percent(3.0) == 99.0  # 100 only once the job has ended


def test_GIVEN_stepwise_reports_THEN_moves_on_between_them_by_at_most_one_step():
    progress = JobProgress(2.0, None, command_job=True)
    progress.reported(0.0, "command", None, 0.0)
    progress.reported(10.0, "command", None, 0.2)
    assert progress.percent(0.3) == pytest.approx(15.0)  # 100 % over 2 s
    assert progress.percent(1.5) == pytest.approx(20.0)  # stalled: one step at most
    progress.reported(20.0, "command", None, 1.6)
    assert progress.percent(1.6) == pytest.approx(20.0)


def test_GIVEN_script_command_progress_without_timeline_THEN_elapsed_over_estimate():
    progress = JobProgress(4.0, None)
    progress.reported(90.0, "command", 1, 1.0)
    assert progress.percent(1.0) == 25.0
    assert JobProgress(None, None).percent(5.0) is None


def test_GIVEN_job_done_WHEN_learned_THEN_next_run_has_its_timeline():
    learned = LearnedTimelines()
    first = JobProgress(None, None)
    for line, t in ((1, 0.0), (2, 1.0), (3, 3.0)):
        first.line(line, t)
    learned.learn("script:abc", first, 4.0)
    again = JobProgress(None, learned.get("script:abc"))
    again.line(2, 1.0)
    assert again.percent(2.0) == pytest.approx(50.0)
    assert learned.get("script:other") is None


@pytest.mark.parametrize(
    "feed",
    [
        # a command reports 90 % of the first segment at once
        lambda p: (p.line(1, 0.0), p.reported(90.0, "command", 1, 0.1)),
        # the job's own code reports 80 % early
        lambda p: p.reported(80.0, "job", 1, 0.2),
        # the lines run ahead of the dry run's timeline
        lambda p: (p.line(1, 0.0), p.line(2, 0.1), p.line(3, 0.2)),
    ],
    ids=["command-report", "job-report", "lines-ahead"],
)
def test_GIVEN_estimate_WHEN_measured_runs_ahead_THEN_never_ahead_of_elapsed_over_estimate(feed):
    progress = JobProgress(2.7, COMMANDS)
    feed(progress)
    for elapsed in (0.1, 0.2, 0.5, 1.0, 2.0, 2.6):
        assert progress.percent(elapsed) <= 100.0 * elapsed / 2.7 + 1e-9
        assert progress.remaining(elapsed) >= 2.7 - elapsed - 1e-9


def test_GIVEN_estimate_WHEN_job_slower_than_estimated_THEN_measured_progress_holds_it_back():
    progress = JobProgress(10.0, None)
    progress.reported(0.0, "job", 1, 0.0)
    progress.reported(10.0, "job", 1, 4.0)  # 10 % after 4 s: it runs slower than estimated
    assert progress.percent(4.0) == pytest.approx(10.0)
    assert progress.remaining(4.0) > 10.0 - 4.0
