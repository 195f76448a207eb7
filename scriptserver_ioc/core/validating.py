"""Calls that check: validate a job without queueing it (or dry-run it), reload commands.

A mixin of `ScriptServer`. Both need slow work (companion checks, a dry run, a catalogue
reparse): the handler decides what it can under the lock and returns a `Later`; a dry run
runs on a thread of its own and completes the write when it ends.
"""

from __future__ import annotations

import logging
from typing import Any

from ..contract import texts
from .deferred import Later
from .jobs import Job
from .operation import Operation, control_call
from .ports import FILE_TEXT
from .specs import JobSpec, Rejected

log = logging.getLogger(__name__)


class ValidateControl:
    """The calls `validate` and `reload_commands` (the core's lock held inside)."""

    @control_call
    def validate(
        self, op: Operation, spec: JobSpec | None, dry_run: bool, problem: str = ""
    ) -> Later | None:
        """Check a job without queueing it (and dry-run it); a dry run completes later.

        Args:
            op: the decision's operation.
            spec: the job, or None when what was written is not a job spec.
            dry_run: also run it in simulation.
            problem: why what was written is not a job spec (answered as the result).
        """
        try:
            if spec is None:
                raise Rejected(problem)
            job = self.prepare_job(spec)
        except Rejected as exc:
            request_id = spec.request_id if spec is not None else None
            self._validated(op, _invalid_result(request_id, str(exc)))
            return None
        if dry_run and self._dry_running:
            raise Rejected(texts.DRY_RUN_BUSY)
        record = job.to_dict()

        def work() -> tuple[Any, Any]:
            """Off the lock: a `file` job's script read, then the checks."""
            script = self.scripts.read(job.file) if job.kind == "file" else None
            if script is not None:
                if script.problem is not None:
                    return script, None
                record[FILE_TEXT] = script.text
            return script, self.validator.check(record)

        def then(outcome: tuple[Any, Any]) -> None:
            script, verdict = outcome
            job.carry(script)
            if verdict is None:
                self._validated(op, _invalid_result(op.request_id, script.problem))
                return
            self._validated(op, verdict.to_result(op.request_id))
            if dry_run and not verdict.errors:
                self.apply_verdict(job, verdict)
                self._start_dry_run(op, job, verdict)

        return Later(work, then, self.commands_revision)

    def _validated(self, op: Operation, result: dict[str, Any]) -> None:
        op.message = "valid" if result["ok"] else f"invalid: {result['errors'][0]['message']}"
        self.validate_result = result
        self.touch("validate")

    def _start_dry_run(self, op: Operation, job: Job, verdict: Any) -> None:
        if self._dry_running:
            raise Rejected(texts.DRY_RUN_BUSY)
        self._dry_running = True
        source, filename = self.job_source(job), self.job_filename(job)
        self.validate_result = verdict.to_result(op.request_id, {"ok": None, "running": True})
        op.message = "dry run started"
        completion, request_id = op.on_done, op.request_id
        op.on_done = None

        def work() -> None:
            try:
                outcome = self.validator.dry_run(job, source, filename)
            except Exception as exc:  # the put must complete whatever happens
                log.exception("dry run failed")
                outcome = {
                    "ok": False,
                    "estimate": None,
                    "steps": [],
                    "writes": [],
                    "output": "",
                    "error": {"type": type(exc).__name__, "message": str(exc), "line": None},
                }
            with self.lock:
                self.validate_result = verdict.to_result(request_id, outcome)
                self._dry_running = False
                self.touch("validate")
            self._notify()
            if completion is not None:
                completion(op.reply)

        self.timers.in_background(work, "dry-run")

    @control_call
    def reload_commands(self, op: Operation) -> Later:
        """Re-read the command sources now (on the worker)."""

        def then(changed: bool) -> None:
            self.touch("commands", "settings")
            op.message = "commands changed" if changed else "commands unchanged"

        return Later(lambda: self.catalogue.reload(force=True), then)


def _invalid_result(request_id: str | None, message: str) -> dict[str, Any]:
    """`VALIDATE:RESULT` of a job that cannot even be bound."""
    return {
        "request_id": request_id,
        "ok": False,
        "errors": [_error_entry(message)],
        "warnings": [],
        "estimate": None,
        "estimate_source": "none",
        "dry_run": None,
    }


def _error_entry(message: str) -> dict[str, Any]:
    line = None
    if message.startswith("line "):
        head = message[5:].split(":", 1)[0].split(",", 1)[0]
        line = int(head) if head.isdigit() else None
    return {"line": line, "col": None, "message": message}
