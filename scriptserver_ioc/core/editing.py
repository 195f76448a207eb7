"""Editing the running script's unexecuted part: `QUEUE:UPDATE` with the running job's id.

A mixin of `ScriptServer`; methods run with the core's lock held. The server checks the edit
against what it knows (the line the job reports), so most refusals come back in `REPLY`
at once; the job process then applies it before its next top-level statement, checking
again against exactly what has run, and reports `edited` (see `job/script_edit.py`).
The job record keeps both texts: `script` is the text running now, and `edits` lists
every edit, each with the text it replaced (`before`) or, if refused by the job, the text
it proposed (`proposed`).
"""

from __future__ import annotations

from typing import Any

from ..job.script_edit import executed_lines_differ, statement_spans
from .decision import RunnerCall
from .jobs import Job, now_iso
from .specs import Rejected
from .state import Operation, RunState


class RunningEdit:
    """`QUEUE:UPDATE` of the running job, and the job's `edited` event."""

    _edit_waiting: tuple[int, str, str] | None = None
    """(edit number, proposed text, who) of an edit sent to the job and not yet applied."""
    _edit_numbers = 0

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

    def edited(self, job: Job, event: dict[str, Any]) -> None:
        """The job applied (or refused) the waiting edit."""
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
