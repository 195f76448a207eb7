"""Editing the running script's unexecuted part: `QUEUE:UPDATE` with the running job's id.

A mixin of `ScriptServer`; methods run with the core's lock held. The server checks the edit
against what it knows (the line the job reports), so most refusals come back in `REPLY`
at once; the job process then applies it before its next top-level statement, checking
again against exactly what has run, and reports `edited` (see `job/script_edit.py`).
The job record keeps both texts: `script` is the text running now, and `edits` lists
every edit, each with the text it replaced (`before`) or, if refused by the job, the text
it proposed (`proposed`).

The put of such a write completes only when the job has the edit, so that "it replaces the
lines after L before the next top-level statement" is true for a client that waits for
completion: the job's reader thread sends `edit_received` once the edit waits in the job
(or was refused there at once). The decision and its REPLY are published at once; the
completion (`on_done`) is held on the core (`EditCompletion`) and called from the thread
that brings the receipt, the job's `edited`, the job's end or the runner's "not sent", or
after `limits.EDIT_RECEIPT_TIMEOUT` (a job of an older launcher sends no receipt) by a
timer, whichever first. No thread waits for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..contract import limits
from ..contract.enums import RunState
from ..contract.reply import Reply
from ..job.script_edit import executed_lines_differ, statement_spans
from .decision import RunnerCall
from .jobs import Job, now_iso
from .operation import Operation
from .ports import Cancellable
from .specs import Rejected

log = logging.getLogger(__name__)


class EditCompletion:
    """The held completion of a `QUEUE:UPDATE` put that sent an edit to the running job.

    It is called once both are true: the writer has published its decision (`published`)
    and the job has the edit, or will never have it (`received`).
    """

    def __init__(self, number: int, on_done: Callable[[Reply], None], reply: Reply) -> None:
        self.number = number
        self.on_done = on_done
        self.reply = reply
        self.published = False
        self.received = False
        self.done = False
        self.timer: Cancellable | None = None


class RunningEdit:
    """`QUEUE:UPDATE` of the running job, and the job's `edited` event."""

    _edit_waiting: tuple[int, str, str] | None = None
    """(edit number, proposed text, who) of an edit sent to the job and not yet applied."""
    _edit_numbers = 0
    _edits_due: list[EditCompletion]
    """Completions to call (lock NOT held) by the thread that made them due (`complete_edits`)."""
    _edit_completion: EditCompletion | None = None
    """The put completion of the last edit, until the job has it (see the module docstring)."""

    def edit_running(self, op: Operation, job: Job, fields: dict[str, Any]) -> None:
        """Send an edit of the running script's unexecuted part to the job (lock held)."""
        if set(fields) != {"script"}:
            extra = ", ".join(sorted(set(fields) - {"script"})) or "nothing"
            raise Rejected(
                f"job {job.id} is running: only its 'script' (the part not yet run) can be "
                f"changed, got {extra}"
            )
        if job.kind != "script":
            raise Rejected(f"job {job.id} is a running {job.kind} job; only scripts are edited")
        if job.blackbox:
            raise Rejected(
                f"job {job.id} is black-box: its lines are not followed, so it cannot be "
                "edited while it runs"
            )
        if self.run_state is RunState.ABORTING:
            raise Rejected(f"job {job.id} is being aborted")
        if self._edit_waiting is not None:
            raise Rejected(
                f"an earlier edit of job {job.id} waits for its next top-level statement"
            )
        new = self.prepare_job(self._merged_spec(job, fields), job.id).script or ""
        executed_end = self._executed_end(job)
        why = executed_lines_differ(job.script or "", new, executed_end)
        if why is not None:
            raise Rejected(f"job {job.id}: {why}")
        self._edit_numbers = number = self._edit_numbers + 1
        self._edit_waiting = (number, new, op.client or "someone")
        failed = lambda message: self._edit_not_sent(job, number, message)  # noqa: E731
        self.effect(RunnerCall("edit", {"number": number, "source": new}, job.id, failed))
        op.edit_number = number
        op.job_ids = [job.id]
        op.message = (
            f"edit of running job {job.id} sent: it replaces the lines after {executed_end} "
            "before the next top-level statement"
        )
        self.log_event(f"{op.client or 'someone'} edited running job {job.id}")

    def _edit_not_sent(self, job: Job, number: int, message: str) -> None:
        """The runner could not send the edit (the job had ended): it is dropped."""
        if self._edit_waiting is not None and self._edit_waiting[0] == number:
            self._edit_waiting = None
        self.edit_reached(number)
        self.last_error = f"the edit of job {job.id} was not sent: {message}"[:500]
        self.touch("last_error")
        self.log_event(self.last_error)

    def _executed_end(self, job: Job) -> int:
        """Last line of the top-level statement that contains the job's current line."""
        line = job.line or 0
        try:
            spans = statement_spans(job.script or "")
        except SyntaxError:
            return 0
        return next((last for first, last in spans if first <= line <= last), line)

    # -- the put's completion ------------------------------------------------------------

    def hold_edit_completion(self, op: Operation, reply: Reply) -> EditCompletion | None:
        """Hold the completion of a write that sent an edit (lock held, after the commit).

        Returns the held completion (the writer calls `edit_published` once its REPLY and
        topics are out), or None: complete the put as usual.
        """
        if not op.ok or op.edit_number is None or op.on_done is None:
            return None
        held = EditCompletion(op.edit_number, op.on_done, reply)
        earlier, self._edit_completion = self._edit_completion, held
        if earlier is not None:  # not possible while its edit waits; never leave a put hanging
            earlier.received = True
            self._edits_due.append(earlier)
        held.timer = self.timers.call_later(
            limits.EDIT_RECEIPT_TIMEOUT, lambda: self._edit_timed_out(held)
        )
        return held

    def edit_published(self, held: EditCompletion) -> None:
        """The writer's decision is published (lock NOT held): complete if the job has it."""
        with self.lock:
            held.published = True
            self._edit_release(held)
        self.complete_edits()

    def edit_reached(self, number: int | None = None) -> None:
        """The job has edit `number` (None: any edit), or will never have it (lock held)."""
        held = self._edit_completion
        if held is not None and (number is None or held.number == number):
            held.received = True
            self._edit_release(held)

    def _edit_release(self, held: EditCompletion) -> None:
        if held.received and held.published and self._edit_completion is held:
            self._edit_completion = None
            if held not in self._edits_due:
                self._edits_due.append(held)

    def complete_edits(self) -> None:
        """Complete the puts of edits the job has (lock NOT held; see `_notify`)."""
        with self.lock:
            ready = [held for held in self._edits_due if not held.done]
            self._edits_due.clear()
            for held in ready:
                held.done = True
        for held in ready:
            if held.timer is not None:
                held.timer.cancel()
            try:
                held.on_done(held.reply)
            except Exception:  # a completion must not break the thread that brings it
                log.exception("completing the put of edit %s failed", held.number)

    def _edit_timed_out(self, held: EditCompletion) -> None:
        """No receipt within `limits.EDIT_RECEIPT_TIMEOUT` (an older launcher): complete."""
        with self.lock:
            if self._edit_completion is held:
                log.info("no receipt of edit %s from the job: its put completes", held.number)
                held.received = True
                self._edit_release(held)
        self.complete_edits()

    def edit_received(self, event: dict[str, Any]) -> None:
        """The job's reader thread has the edit (it waits for the next statement)."""
        number = event.get("edit")
        self.edit_reached(number if isinstance(number, int) else None)

    def edited(self, job: Job, event: dict[str, Any]) -> None:
        """The job applied (or refused) the waiting edit."""
        number = event.get("edit")
        self.edit_reached(number if isinstance(number, int) else None)
        waiting, self._edit_waiting = self._edit_waiting, None
        if waiting is None or event.get("edit") != waiting[0]:
            return
        _, new, who = waiting
        entry: dict[str, Any] = {"time": now_iso(), "by": who, "applied": bool(event.get("ok"))}
        if event.get("ok"):
            entry.update(after_line=event.get("executed_end"), before=job.script)
            job.update(script=new, edits=[*job.edits, entry])
            self.current_source = new
            self.touch("script")
            self.log_event(f"edit of job {job.id} applied after line {entry['after_line']}")
        else:
            message = str(event.get("message") or "refused")
            entry.update(message=message, proposed=new)
            job.update(edits=[*job.edits, entry])
            self.log_event(f"the edit of job {job.id} was not applied: {message}"[:500])
        self.writes.save_job(job)
        self.touch("current")
