"""Progress of generated batches (`tags.group`): `STATUS.groups` and the current job's place.

Pure functions over job records, no I/O. A script generator adds a batch atomically, so its
jobs have consecutive ids; a group is *active* while one of its jobs is queued or running,
and the finished jobs of the same batch are the history entries of the group whose ids lie
in the batch's id range (the last active id minus the batch size). A group leaves
`STATUS.groups` when its last job has ended.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..contract import tags as batch_tags
from ..contract.enums import JobState
from .jobs import Job

FAILED_STATES = (JobState.FAILED, JobState.ABORTED, JobState.INTERRUPTED)


def group_of(job: Job | None) -> str | None:
    """The job's batch group name, or None."""
    return batch_tags.group_of(job.tags) if job is not None else None


def _count_tag(job: Job) -> int:
    return batch_tags.declared_count(job.tags)


def queued_groups(queue: Iterable[Job]) -> dict[str, dict[str, Any]]:
    """Per batch group of the queued jobs: size, how many are queued, their estimate.

    Returns:
        ``{group: {"count", "queued", "estimate", "unknown"}}``: ``count`` is the batch size
        from ``tags.count`` (else the number of jobs seen), ``estimate`` the sum of the
        queued jobs' estimates (unknown count 0) and ``unknown`` how many had none.
    """
    groups: dict[str, dict[str, Any]] = {}
    for job in queue:
        name = group_of(job)
        if name is None:
            continue
        entry = groups.setdefault(name, {"count": 0, "queued": 0, "estimate": 0.0, "unknown": 0})
        entry["queued"] += 1
        entry["count"] = max(entry["count"], entry["queued"], _count_tag(job))
        if job.estimate is None or job.estimate < 0:
            entry["unknown"] += 1
        else:
            entry["estimate"] += float(job.estimate)
    return groups


def batch_progress(
    current: Job | None,
    current_remaining: float | None,
    queued: Iterable[Job],
    history: Iterable[Job],
) -> dict[str, dict[str, Any]]:
    """Per active group: how far the batch is, and when it should end.

    Args:
        current: the running job, or None.
        current_remaining: its expected seconds left (None: unknown, counts 0).
        queued: the queued jobs in run order.
        history: finished jobs, newest first.

    Returns:
        ``{group: {"count", "done", "failed", "skipped", "running", "running_id",
        "remaining"}}``: ``count`` the batch size (``tags.count``, else the jobs seen),
        ``failed`` counts FAILED, ABORTED and INTERRUPTED, ``running`` is the place of the
        running job in the batch (finished + 1) or None, ``remaining`` the seconds until
        its last job should end, in run order (unknown estimates count 0).
    """
    groups: dict[str, dict[str, Any]] = {}
    elapsed_before = max(current_remaining or 0.0, 0.0) if current is not None else 0.0
    active: list[Job] = [current] if current is not None else []
    for job in queued:
        active.append(job)
        if job.estimate is not None and job.estimate > 0:
            elapsed_before += job.estimate
        name = group_of(job)
        if name is not None:
            groups.setdefault(name, _empty())["remaining"] = elapsed_before
    name = group_of(current)
    if name is not None:
        entry = groups.setdefault(name, _empty())
        if entry["remaining"] is None:
            entry["remaining"] = max(current_remaining or 0.0, 0.0)
        entry["running_id"] = current.id
    for name, entry in groups.items():
        members = [job for job in active if group_of(job) == name]
        size = max([len(members), *(_count_tag(job) for job in members)])
        in_batch = _batch_rule(members, size)
        for job in history:
            if group_of(job) == name and in_batch(job):
                if job.state is JobState.DONE:
                    entry["done"] += 1
                elif job.state in FAILED_STATES:
                    entry["failed"] += 1
                elif job.state is JobState.SKIPPED:
                    entry["skipped"] += 1
        finished = entry["done"] + entry["failed"] + entry["skipped"]
        entry["count"] = max(size, finished + len(members))
        if entry["running_id"] is not None:
            entry["running"] = finished + 1
    return groups


def _index_tag(job: Job) -> int | None:
    return batch_tags.whole_number(job.tags, batch_tags.INDEX)


def _batch_rule(members: list[Job], size: int):
    """Whether a finished job of the group belongs to the active members' batch.

    With ``tags.index`` on every member: same ``id - index`` (the batch was added at once,
    so ids are consecutive). Without: an id in the ``size`` ids before the last active one.
    """
    bases = {job.id - index for job in members if (index := _index_tag(job)) is not None}
    if len(bases) == 1 and all(_index_tag(job) is not None for job in members):
        base = bases.pop()
        return lambda job: _index_tag(job) is not None and job.id - _index_tag(job) == base
    last_id = max(job.id for job in members)
    first_id = min(last_id - size + 1, min(job.id for job in members))
    return lambda job: first_id <= job.id < last_id


def _empty() -> dict[str, Any]:
    return {
        "count": 0,
        "done": 0,
        "failed": 0,
        "skipped": 0,
        "running": None,
        "running_id": None,
        "remaining": None,
    }


def current_place(groups: dict[str, dict[str, Any]], current: Job | None) -> dict | None:
    """The running job's place in its batch for the `CURRENT` record, or None.

    Returns:
        ``{"name", "position", "count", "text"}``, text like ``"3 of 10"``.
    """
    name = group_of(current)
    entry = groups.get(name) if name is not None else None
    if entry is None or entry["running"] is None:
        return None
    position, count = entry["running"], entry["count"]
    return {"name": name, "position": position, "count": count, "text": f"{position} of {count}"}
