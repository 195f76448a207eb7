"""Queue editing operations of the control API (QUEUE:* PVs).

A mixin of `ScriptServer`: every handler is one decision (`core.decision`), run with the
server lock held: it changes the in-memory queue, records its store writes, and raises
`Rejected` with a message naming what was wrong, which undoes everything it changed.
"""

from __future__ import annotations

from typing import Any

from ..contract import limits
from ..contract.enums import JobState
from .building import JobBuilding
from .deferred import Later
from .jobs import Job, now_iso
from .operation import Operation
from .specs import (
    Rejected,
    load_json,
    parse_id,
    parse_id_or_object,
    parse_ids,
    parse_index,
    parse_job_text,
    parse_request_id,
)


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

    def add(self, op: Operation, text: str) -> Later:
        """QUEUE:ADD: queue a job, a call, or a batch (all or none)."""
        specs = parse_job_text(text)
        op.request_id = specs[0].request_id
        jobs: list[Job] = []
        where = (lambda i: f"batch item {i}: ") if len(specs) > 1 else (lambda i: "")
        for index, spec in enumerate(specs):
            try:
                jobs.append(self.prepare_job(spec))
            except Rejected as exc:
                raise Rejected(f"{where(index)}{exc}") from None
        return self.check_later(jobs, lambda: self._queue_new(op, jobs, specs[0].position), where)

    def remove(self, op: Operation, text: str) -> None:
        """QUEUE:REMOVE: delete queued jobs by id, list of ids, or `all`."""
        self.remove_jobs(op, parse_ids(text))

    def remove_jobs(self, op: Operation, ids: list[int] | None) -> None:
        """Delete the queued jobs `ids` (None: every queued job); all must be queued."""
        if ids is None:
            ids = self.queue.ids()
        self._require_queued(ids)
        self.delete_queued(op, ids)
        op.message = f"removed {_ids_text(ids)}"
        self.log_event(f"{_who(op)}removed {_ids_text(ids)} from the queue")

    def move(self, op: Operation, text: str) -> None:
        """QUEUE:MOVE: reorder by `to`, `before`, `after`, `by` or a full `order`."""
        obj = load_json(text, "the move")
        if not isinstance(obj, dict):
            raise Rejected(_MOVE_HELP)
        op.request_id = _request_id(obj)
        obj.pop("request_id", None)
        if "order" in obj:
            if set(obj) != {"order"}:
                raise Rejected("'order' takes no other key; " + _MOVE_HELP)
            order = obj["order"]
            if not isinstance(order, list) or len(order) > limits.MAX_QUEUE_LENGTH:
                raise Rejected("'order' must be a JSON array of job ids")
            order = [parse_id(v) for v in order]
            self.queue.reorder(order)
            self.writes.set_keys(self.queue.keys)
            self.touch("queue")
            op.message = "queue reordered"
            self.log_event(f"{_who(op)}reordered the queue")
            return
        keys = set(obj) - {"id"}
        if "id" not in obj or len(keys) != 1 or not keys <= {"to", "before", "after", "by"}:
            raise Rejected(_MOVE_HELP)
        job_id = parse_id(obj["id"])
        self._require_queued([job_id])
        how = keys.pop()
        self.move_job(op, job_id, how, obj[how])

    def move_job(self, op: Operation, job_id: int, how: str, target: Any) -> None:
        """Move queued job `job_id` (typed: slot actions call it without JSON).

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

    def update(self, op: Operation, text: str) -> Later | None:
        """QUEUE:UPDATE: edit a queued job; re-validated, rejected as a whole if invalid.

        The running job's id edits its script's unexecuted part (`edit_running`).
        """
        job_id, fields = parse_id_or_object(text, "the update")
        op.request_id = _request_id(fields)
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

    def repeat(self, op: Operation, text: str) -> None:
        """QUEUE:REPEAT: insert copies of a queued job right after it."""
        job_id, fields = parse_id_or_object(text, "the repeat")
        op.request_id = _request_id(fields)
        if set(fields) - {"times"}:
            raise Rejected('QUEUE:REPEAT takes an id or {"id": ..., "times": k}')
        times = fields.get("times", 1)
        if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times:
            raise Rejected(f"'times' must be a positive integer, got {times!r:.40}")
        if times > limits.MAX_REPEAT:
            raise Rejected(f"'times' is {times}; at most {limits.MAX_REPEAT} (MAX_REPEAT)")
        job = self._require_queued([job_id])[0]
        copies = [
            Job.from_dict({**job.to_dict(), "warnings": list(job.warnings)}) for _ in range(times)
        ]
        for copy in copies:
            copy.carry(job.file_text)
        self._queue_new(op, copies, self.queue.index(job_id) + 1)
        op.message = f"job {job_id} repeated as {_ids_text(op.job_ids)}"

    def rerun(self, op: Operation, text: str) -> Later:
        """QUEUE:RERUN: queue a copy of a finished job from the beginning, optionally edited."""
        job_id, fields = parse_id_or_object(text, "the re-run")
        op.request_id = _request_id(fields)
        position = fields.pop("position", None)
        if position is not None:
            position = parse_index(position, "position")
        original = self._finished(job_id)
        job = self.prepare_job(self._merged_spec(original, fields))
        job.rerun_of = job_id

        def then() -> None:
            self._queue_new(op, [job], position)
            op.message = f"job {job_id} queued again as {op.job_ids[0]}"

        return self.check_later([job], then, lambda i: "")

    def skip(self, op: Operation, text: str) -> None:
        """QUEUE:SKIP: a queued job goes to history as SKIPPED; the current job is ended."""
        job_id = parse_id(text.strip() if isinstance(text, str) else text)
        op.job_ids = [job_id]
        if self.current is not None and self.current.id == job_id:
            self.end_current(op, JobState.SKIPPED, hold_after=False, kill=False)
            op.message = f"skipping the running job {job_id}"
            return
        job = self._require_queued([job_id])[0]
        self.queue.remove([job_id])
        job.update(state=JobState.SKIPPED, finished=now_iso())
        self.record_finished(job)
        self.touch("queue")
        op.message = f"job {job_id} skipped"
        self.log_event(f"{_who(op)}skipped job {job_id}")

    def clear(self, op: Operation, value: Any) -> None:
        """QUEUE:CLEAR: delete every queued job (write 1)."""
        if value != 1:
            raise Rejected(f"write 1 to clear the queue (got {value!r:.40})")
        ids = self.queue.ids()
        self.delete_queued(op, ids)
        op.message = f"removed {len(ids)} queued jobs"
        self.log_event(f"{_who(op)}cleared the queue ({len(ids)} jobs)")

    def set_hold(self, op: Operation, value: Any) -> None:
        """QUEUE:HOLD: 0 run, 1 hold (finish the current job, start no new one)."""
        if value not in (0, 1):
            raise Rejected(f"write 0 (RUN) or 1 (HOLD), got {value!r:.40}")
        self.change_hold(bool(value), f"{_who(op)}{'held' if value else 'released'} the queue")
        op.message = "queue held" if value else "queue running"

    def set_on_error(self, op: Operation, value: Any) -> None:
        """QUEUE:ON_ERROR: 0 hold the queue after a failed job, 1 continue."""
        if value not in (0, 1):
            raise Rejected(f"write 0 (HOLD) or 1 (CONTINUE), got {value!r:.40}")
        self.on_error_hold = value == 0
        self.writes.set_setting("on_error_hold", self.on_error_hold)
        self.touch("settings")
        op.message = "after a failed job: " + ("hold" if value == 0 else "continue")
        self.log_event(f"{_who(op)}set ON_ERROR to {'HOLD' if value == 0 else 'CONTINUE'}")

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


_MOVE_HELP = (
    'expected {"id", "to": index|"top"|"bottom"}, {"id", "before": id}, {"id", "after": id}, '
    '{"id", "by": k} or {"order": [ids]}'
)


def _request_id(obj: dict[str, Any]) -> str | None:
    return parse_request_id(obj.pop("request_id", None))


def _ids_text(ids: list[int]) -> str:
    if len(ids) == 1:
        return f"job {ids[0]}"
    if len(ids) > 5:
        return f"{len(ids)} jobs ({ids[0]}..{ids[-1]})"
    return "jobs " + ", ".join(map(str, ids))


def _who(op: Operation) -> str:
    return f"{op.client}: " if op.client else ""


__all__ = ["QueueControl"]
