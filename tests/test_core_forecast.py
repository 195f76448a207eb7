"""The running job's progress and time left, the queue's ETA and finish (`core.forecast`)."""

from datetime import datetime, timezone

import pytest

from scriptserver_ioc.core import forecast


@pytest.mark.parametrize(
    ("elapsed", "estimate", "expected"),
    [(30, 60, 50.0), (0, 60, 0.0), (90, 60, 99.0), (10, 0, 99.0), (10, None, None)],
)
def test_GIVEN_elapsed_and_estimate_WHEN_progress_derived_THEN_capped_at_99(
    elapsed, estimate, expected
):
    assert forecast.progress_from_elapsed(elapsed, estimate) == expected


def test_GIVEN_only_estimate_WHEN_remaining_asked_THEN_estimate_minus_elapsed_never_negative():
    assert forecast.remaining(100, 30) == 70
    assert forecast.remaining(100, 130) == 0.0
    assert forecast.remaining(None, 30) is None


def test_GIVEN_only_progress_WHEN_remaining_asked_THEN_extrapolated_from_the_rate():
    assert forecast.remaining(None, 30, progress=25) == pytest.approx(90)
    assert forecast.remaining(None, 30, progress=100) == 0.0
    assert forecast.remaining(None, 30, progress=0) is None


def test_GIVEN_estimate_and_progress_WHEN_remaining_asked_THEN_blend_trusts_progress_as_it_grows():
    # estimate says 70 s left; a job at 75 % after 30 s says 10 s left
    blended = forecast.remaining(100, 30, progress=75)
    assert blended == pytest.approx(0.25 * 70 + 0.75 * 10)
    assert forecast.remaining(100, 30, progress=1) == pytest.approx(0.99 * 70 + 0.01 * 2970)


def test_GIVEN_queue_WHEN_eta_summed_THEN_unknown_estimates_count_zero():
    assert forecast.queue_eta(30, [60, None, -1, 10]) == 100.0
    assert forecast.queue_eta(None, []) == 0.0


def test_GIVEN_eta_WHEN_finish_formatted_THEN_time_of_day_with_day_offset():
    now = datetime(2026, 11, 28, 22, 0, 0, tzinfo=timezone.utc)
    assert forecast.queue_finish(3600, now) == "23:00:00"
    assert forecast.queue_finish(4 * 3600 + 5, now) == "02:00:05 +1d"
    assert forecast.queue_finish(3600, now, idle=True) == "-"
    assert forecast.queue_finish(None, now) == "-"
