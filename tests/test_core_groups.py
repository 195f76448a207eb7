"""Batch (tags.group) progress: counts, place of the running job, end of the group."""

from __future__ import annotations

from scriptserver_ioc.contract.enums import JobState
from scriptserver_ioc.contract.tags import group_of, place_text
from scriptserver_ioc.core.groups import batch_progress, current_place, queued_groups
from scriptserver_ioc.core.jobs import Job


def job(job_id, index, state=JobState.QUEUED, group="scan", count=5, estimate=10.0):
    tags = {"group": group, "index": index, "count": count}
    return Job(
        id=job_id, name=f"j{job_id}", kind="script", tags=tags, state=state, estimate=estimate
    )


def test_GIVEN_batch_half_done_THEN_counts_place_and_remaining():
    history = [
        job(12, 2, JobState.FAILED),
        job(11, 1, JobState.DONE),
        job(9, 3, JobState.DONE, group="other"),
        job(5, 1, JobState.DONE),
    ]  # job 5: an earlier batch
    current = job(13, 3, JobState.RUNNING)
    queued = [job(20, 0, group="", estimate=100.0), job(14, 4), job(15, 5)]
    groups = batch_progress(current, 4.0, queued, history)
    assert groups["scan"] == {
        "count": 5,
        "done": 1,
        "failed": 1,
        "skipped": 0,
        "running": 3,
        "running_id": 13,
        "remaining": 124.0,
    }
    assert current_place(groups, current)["text"] == "3 of 5"
    assert "other" not in groups


def test_GIVEN_last_job_of_group_running_THEN_kept_until_it_ends():
    current = job(15, 5, JobState.RUNNING)
    history = [job(14 - i, 4 - i, JobState.DONE) for i in range(4)]
    groups = batch_progress(current, 2.5, [], history)
    assert groups["scan"]["running"] == 5 and groups["scan"]["remaining"] == 2.5
    assert batch_progress(None, None, [], [current, *history]) == {}


def test_GIVEN_queued_batch_jobs_WHEN_grouped_THEN_counts_and_queued_estimates_per_group():
    queue = [
        job(1, 1, count=4, estimate=60),
        job(2, 2, count=4, estimate=None),
        job(3, 3, count=4, estimate=30),
        job(4, 0, group="align", count=0, estimate=5),
        job(5, 0, group="", estimate=5),
        Job(id=6, name="j6", kind="script", estimate=5),
    ]
    assert queued_groups(queue) == {
        "scan": {"count": 4, "queued": 3, "estimate": 90.0, "unknown": 1},
        "align": {"count": 1, "queued": 1, "estimate": 5.0, "unknown": 0},
    }


def test_GIVEN_batch_tags_WHEN_shown_THEN_place_text_reads_them_as_the_server_does():
    assert place_text({"group": "T scan", "index": 3, "count": 10}) == "T scan 3 of 10"
    assert place_text({"index": 3, "count": 10}) == "3 of 10"
    assert place_text({"group": "T scan", "index": True, "count": 10}) == ""
    assert place_text(None) == ""
    assert group_of({"group": ""}) is None and group_of({"group": 7}) == "7"
