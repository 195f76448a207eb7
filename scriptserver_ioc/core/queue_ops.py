"""Queue editing calls of the typed API: add, remove, move, update, repeat, re-run, skip...

A mixin of `ScriptServer`: every call (`operation.control_call`) is one decision
(`core.decision`), run with the server lock held, over values the edge decoded: it
changes the in-memory queue, records its store writes, and raises `Rejected` with a
message naming what was wrong, which undoes everything it changed.
"""

from __future__ import annotations

from typing import Any

from ..contract.enums import JobState
from .building import JobBuilding
from .deferred import Later
from .ending import Ending
from .jobs import Job, now_iso
from .operation import Operation, control_call
from .specs import JobSpec, Rejected, parse_id, parse_index


class QueueControl(JobBuilding):
    """Handlers of QUEUE:ADD, REMOVE, MOVE, UPDATE, REPEAT, RERUN, SKIP, CLEAR, HOLD, ON_ERROR."""

    def _queue_new(self, op: Operation, jobs: list[Job], index: int | None) -> None:
        first = self.next_job_id  # put back with the rest if the decision is undone
        ids = list(range(first, first + len(jobs)))
        self.next_job_id = first + len(jobs)
        self.writes.set_setting("next_id", self.next_job_id)
        created = now_iso()
        for job, job_id in zip(jobs, ids):
            job.update(id=job_id, created=created, state=JobState.QUEUED)
        self.check_queue_room(len(jobs), sum(len(job.json_text()) for job in jobs))
        self.note_queued(jobs)
        self._insert(jobs, index)
        op.job_ids = ids
        where = "" if index is None or index >= len(self.queue) - len(jobs) else f" at {index}"
        op.message = f"queued {_ids_text(ids)}{where}"
        self.log_event(f"{_who(op)}queued {_ids_text(ids)}: {jobs[0].name}"[:300])

    def _insert(self, jobs: list[Job], index: int | None) -> None:
        renumbered = self.queue.insert(jobs, index)
        keys = self.queue.keys
        if renumbered:
            self.writes.save_jobs([(job, keys[job.id]) for job in jobs])
            self.writes.set_keys(keys)
        else:
            self.writes.save_jobs([(job, keys[job.id]) for job in jobs])
        self.touch("queue")

    # -- handlers ------------------------------------------------------------------------

    @control_call
    def add(self, op: Operation, specs: list[JobSpec]) -> Later:
        """Queue jobs: one, or a batch (all or none), at the first spec's `position`."""
        jobs: list[Job] = []
        where = (lambda i: f"batch item {i}: ") if len(specs) > 1 else (lambda i: "")
        for index, spec in enumerate(specs):
            try:
                jobs.append(self.prepare_job(spec))
            except Rejected as exc:
                raise Rejected(f"{where(index)}{exc}") from None
        return self.check_later(jobs, lambda: self._queue_new(op, jobs, specs[0].position), where)

    @control_call
    def remove(self, op: Operation, ids: list[int] | None) -> None:
        """Delete the queued jobs `ids` (None: every queued job); all must be queued."""
        self.remove_jobs(op, ids)

    def remove_jobs(self, op: Operation, ids: list[int] | None) -> None:
        """Delete the queued jobs `ids` (None: every queued job); all must be queued."""
        if ids is None:
            ids = self.queue.ids()
        self._require_queued(ids)
        self.delete_queued(op, ids)
        op.message = f"removed {_ids_text(ids)}"
        self.log_event(f"{_who(op)}removed {_ids_text(ids)} from the queue")

    @control_call
    def move(self, op: Operation, job_id: int, how: str, target: Any) -> None:
        """Move queued job `job_id` by `to`, `before`, `after` or `by` (`move_job`)."""
        self._require_queued([job_id])
        self.move_job(op, job_id, how, target)

    @control_call
    def reorder(self, op: Operation, order: list[int]) -> None:
        """Put the queue in this order; queued jobs not named follow in their order."""
        self.queue.reorder(order)
        self.writes.set_keys(self.queue.keys)
        self.touch("queue")
        op.message = "queue reordered"
        self.log_event(f"{_who(op)}reordered the queue")

    def move_job(self, op: Operation, job_id: int, how: str, target: Any) -> None:
        """Move queued job `job_id` (`move`; slot actions call it in their decision).

        Args:
            op: the decision's operation.
            job_id: a queued job.
            how: `to` (an index, "top" or "bottom"), `by` (places), `before` or `after`.
            target: the index, number of places, or the other queued job's id.
        """
        self._require_queued([job_id])
        old = self.queue.index(job_id)
        if how == "to":
            last = len(self.queue) - 1
            to = {"top": 0, "bottom": last}.get(target) if isinstance(target, str) else None
            if to is None:
                to = parse_index(target, "to")
                if to > last:
                    raise Rejected(f"'to' is {to} but the queue has indexes 0..{last}")
        elif how == "by":
            if isinstance(target, bool) or not isinstance(target, int):
                raise Rejected(f"'by' must be an integer number of places, got {target!r:.40}")
            to = max(0, min(len(self.queue) - 1, old + target))
        else:
            other = parse_id(target, f"'{how}'")
            if other == job_id:
                raise Rejected(f"a job cannot move {how} itself")
            self._require_queued([other])
            to = self.queue.index(other) + (1 if how == "after" else 0)
            to -= 1 if to > old else 0
        if self.queue.move(job_id, to):
            self.writes.set_keys(self.queue.keys)
        else:
            self.writes.set_keys({job_id: self.queue.keys[job_id]})
        self.touch("queue")
        op.job_ids = [job_id]
        op.message = f"job {job_id} moved from index {old} to {to}"
        self.log_event(f"{_who(op)}moved job {job_id} from index {old} to {to}")

    @control_call
    def update(self, op: Operation, job_id: int, fields: dict[str, Any]) -> Later | None:
        """Edit a queued job with `fields` of a job spec; re-validated, all or nothing.

        The running job's id edits its script's unexecuted part (`edit_running`).
        """
        if self.current is not None and job_id == self.current.id:
            return self.edit_running(op, self.current, fields)  # core/editing.py
        job = self._require_queued([job_id])[0]
        if not fields:
            raise Rejected("the update changes nothing; give fields of a job spec")
        edited = self.prepare_job(self._merged_spec(job, fields), job_id)
        edited.update(created=job.created, rerun_of=job.rerun_of)

        def then() -> None:
            self.queue.replace(edited)
            self.writes.save_jobs([(edited, self.queue.keys[job_id])])
            self.touch("queue")
            op.job_ids = [job_id]
            op.message = f"job {job_id} updated"
            self.log_event(f"{_who(op)}updated job {job_id}: {edited.name}"[:300])

        later = self.check_later([edited], then, lambda i: "")
        later.basis = lambda: (self.commands_revision(), self.queue.get(job_id))
        return later

    @control_call
    def repeat(self, op: Operation, job_id: int, times: int) -> None:
        """Insert `times` copies of a queued job right after it."""
        job = self._require_queued([job_id])[0]
        copies = [
            Job.from_dict({**job.to_dict(), "warnings": list(job.warnings)}) for _ in range(times)
        ]
        for copy in copies:
            copy.carry(job.file_text)
        self._queue_new(op, copies, self.queue.index(job_id) + 1)
        op.message = f"job {job_id} repeated as {_ids_text(op.job_ids)}"

    @control_call
    def rerun(
        self, op: Operation, job_id: int, fields: dict[str, Any], position: int | None
    ) -> Later:
        """Queue a copy of a finished job from the beginning, edited by `fields`, at `position`."""
        original = self._finished(job_id)
        job = self.prepare_job(self._merged_spec(original, fields))
        job.rerun_of = job_id

        def then() -> None:
            self._queue_new(op, [job], position)
            op.message = f"job {job_id} queued again as {op.job_ids[0]}"

        return self.check_later([job], then, lambda i: "")

    @control_call
    def skip(self, op: Operation, job_id: int) -> None:
        """A queued job goes to history as SKIPPED; the current job is ended."""
        op.job_ids = [job_id]
        if self.current is not None and self.current.id == job_id:
            self.end_current(op, Ending("skipped", op.client), JobState.SKIPPED, hold_after=False)
            op.message = f"skipping the running job {job_id}"
            return
        job = self._require_queued([job_id])[0]
        self.queue.remove([job_id])
        job.update(state=JobState.SKIPPED, finished=now_iso())
        self.record_finished(job)
        self.touch("queue")
        op.message = f"job {job_id} skipped"
        self.log_event(f"{_who(op)}skipped job {job_id}")

    @control_call
    def clear(self, op: Operation) -> None:
        """Delete every queued job."""
        ids = self.queue.ids()
        self.delete_queued(op, ids)
        op.message = f"removed {len(ids)} queued jobs"
        self.log_event(f"{_who(op)}cleared the queue ({len(ids)} jobs)")

    @control_call
    def set_hold(self, op: Operation, hold: bool) -> None:
        """Hold the queue (finish the current job, start no new one) or let it run."""
        self.change_hold(hold, f"{_who(op)}{'held' if hold else 'released'} the queue")
        op.message = "queue held" if hold else "queue running"

    @control_call
    def set_on_error(self, op: Operation, hold: bool) -> None:
        """After a failed job: hold the queue, or continue with the next job."""
        self.on_error_hold = hold
        self.writes.set_setting("on_error_hold", self.on_error_hold)
        self.touch("settings")
        op.message = "after a failed job: " + ("hold" if hold else "continue")
        self.log_event(f"{_who(op)}set ON_ERROR to {'HOLD' if hold else 'CONTINUE'}")

    def change_hold(self, hold: bool, why: str) -> None:
        """Set the hold flag, store it and log why."""
        if hold != self.hold:
            self.hold = hold
            self.writes.set_setting("hold", hold)
            self.log_event(why)
            self.hold_reason = why if hold else ""
        self.touch("settings")

    # -- helpers -------------------------------------------------------------------------

    def delete_queued(self, op: Operation, ids: list[int]) -> None:
        """Delete queued jobs without a history entry."""
        self.queue.remove(ids)
        self.writes.delete_jobs(ids)
        self.touch("queue")
        op.job_ids = ids

    def _require_queued(self, ids: list[int]) -> list[Job]:
        missing = [i for i in ids if i not in self.queue]
        if missing:
            raise Rejected(self._not_queued_text(missing[0]))
        return [self.queue.get(i) for i in ids]

    def _not_queued_text(self, job_id: int) -> str:
        queued = [job.id for job in self.queue.head(11)]
        shown = ", ".join(map(str, queued[:10])) + (", ..." if len(queued) > 10 else "")
        if self.current is not None and self.current.id == job_id:
            why = "it is running"
        else:
            finished = self._finished_or_none(job_id)
            why = (
                f"it finished as {finished.state.value} at {finished.finished}"
                if finished
                else "no such job"
            )
        return f"job {job_id} is not queued ({why}); queued ids: {shown or 'none'}"

    def _finished_or_none(self, job_id: int) -> Job | None:
        for job in self.history:
            if job.id == job_id:
                return job
        return self.store.finished_job(job_id)

    def _finished(self, job_id: int) -> Job:
        job = self._finished_or_none(job_id)
        if job is None:
            where = "it is queued" if job_id in self.queue else "no such finished job"
            if self.current is not None and self.current.id == job_id:
                where = "it is still running"
            raise Rejected(f"job {job_id} cannot be re-run: {where}")
        return job


def _ids_text(ids: list[int]) -> str:
    if len(ids) == 1:
        return f"job {ids[0]}"
    if len(ids) > 5:
        return f"{len(ids)} jobs ({ids[0]}..{ids[-1]})"
    return "jobs " + ", ".join(map(str, ids))


def _who(op: Operation) -> str:
    return f"{op.client}: " if op.client else ""


__all__ = ["QueueControl"]
