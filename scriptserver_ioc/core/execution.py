"""Running the queue: starting jobs, pause/resume/abort/stop, and the runner's events.

A mixin of `ScriptServer`. Handlers decide over the core's in-memory state (the run state
says what the runner has been asked; nothing asks the runner itself) and ask for runner
calls as effects (`core.decision.RunnerCall`), made after the decision is committed and
outside the lock. A call that fails then (the process had already ended) comes back to
`_not_carried_out`, which puts the run state back and says so in `LOG` and `LAST_ERROR`.
The runner (see docs/design.md) reports back through `on_job_event` from its own threads;
those events are facts (`ScriptServer.facts`).
"""

from __future__ import annotations

import logging
from typing import Any

from ..contract import limits, texts
from ..contract.enums import JobState, RunState
from .decision import RunnerCall
from .editing import RunningEdit
from .ending import Ending, ended_error
from .jobs import Job, now_iso, parse_iso
from .operation import Operation, control_call
from .plots import plotted
from .ports import StoreError
from .running import JobTracking
from .specs import Rejected
from .validating import ValidateControl

log = logging.getLogger(__name__)

OUTPUT_TAIL_CHARS = limits.OUTPUT_TAIL_BYTES  # characters kept; the PV cuts to bytes


class ExecutionControl(JobTracking, RunningEdit, ValidateControl):
    """Handlers of PAUSE, RESUME, ABORT, STOP (VALIDATE, COMMANDS:RELOAD: validating.py), events."""

    # -- starting and ending jobs (lock held) --------------------------------------------

    def _maybe_start_next(self) -> None:
        """Start the next queued job unless one runs or the queue is held (lock held).

        Each start is a decision of its own; if the store cannot record it, nothing changes
        and the queue is held in memory until the store can be written (`core.unsaved`).
        """
        nested = self._scope is not None
        while self.runner is not None and not self.hold and self.current is None and self.queue:
            try:
                with self.deciding():
                    first = self.queue.first()
                    if not self.scripts.ready(first) or self.preflight_blocks(first):
                        return
                    self._start(self.queue.pop_first())
            except StoreError as exc:
                if nested:
                    raise
                log.error("cannot record the start of the next job: %s", exc)
                self.unsaved.hold_until_writable(exc)
                return

    def _start(self, job: Job) -> None:
        """Make `job` current and ask the runner to start it; a job that cannot start fails."""
        job.update(
            state=JobState.RUNNING,
            started=now_iso(self.timers.now()),
            line=None,
            progress=None,
            message="",
            error=None,
            exit_code=None,
        )
        self.current, self.current_source, self.output_tail = job, "", ""
        self.run_state, self._end_as = RunState.RUNNING, None
        self.paused_since, self.paused_total = None, 0.0
        self.touch("queue", "current", "state", "output", "script")
        paused = self.take_carried_pause(job)
        try:
            self.current_source = source = self.job_source(job)
            filename = self.job_filename(job)
        except Rejected as exc:
            self._launch_failed(job, str(exc))
            return
        self.job_progress = self.new_job_progress(job)
        # the launch is recorded before the runner hears of it: recovery knows it may run
        self.writes.save_job(job, handle={"launched": job.started})
        self.log_event(f"job {job.id} started: {job.name}"[:300])
        launch = {
            "job_id": job.id,
            "name": job.name,
            "kind": job.kind,
            "source": source,
            "filename": filename,
            "blackbox": job.blackbox,
            "commands": self.catalogue.job_commands(),
            "log_path": str(self.log_path(job.id)),
            "paused": paused,
        }
        failed = lambda message: self._launch_failed(job, message)  # noqa: E731
        self.effect(RunnerCall("start", {"launch": launch}, job.id, failed))

    def _launch_failed(self, job: Job, message: str) -> None:
        """The job could not be started: it ends FAILED (lock held)."""
        if self.current is not job:
            return
        log.warning("job %s could not be started: %s", job.id, message)
        error = {
            "type": "LaunchError",
            "message": f"the job could not be started: {message}",
            "line": None,
            "traceback": "",
        }
        self._finished_current(job, {"state": "FAILED", "error": error})

    def log_path(self, job_id: int) -> Any:
        """Where a job's stdout and stderr are written."""
        return self.logs_dir / f"job-{job_id}.log"

    def record_finished(self, job: Job) -> None:
        """Store a job in its terminal state as the newest history entry (lock held)."""
        self.writes.finish_job(job)
        self.history.appendleft(job)
        self.touch("history", "last", "state")

    def _after_failure(self, job: Job) -> None:
        if self.on_error_hold:
            self.change_hold(True, f"queue held after job {job.id} ended {job.state.value}")

    def end_current(self, op: Operation, ending: Ending, state: JobState, hold_after: bool) -> None:
        """End the current job as `ending` asks; it is recorded as `state` once it is gone."""
        kill = ending.kill
        if self.current is None:
            raise Rejected("no job is running")
        if self.run_state is RunState.ABORTING and not kill:
            raise Rejected(
                f"job {self.current.id} is already being aborted; write 2 (KILL) to kill it"
            )
        self.safety_action()  # carried out even if the store cannot record it
        job, before = self.current, (self.run_state, self._end_as)
        self._end_as = (state, hold_after, ending)
        self.run_state = RunState.ABORTING
        self.touch("state", "current")
        how = "killing" if kill else "aborting"
        self.log_event(
            f"{op.client or 'someone'} is {how} job {job.id}"
            + (" (skip)" if state is JobState.SKIPPED else "")
        )
        self._ask_runner("abort", {"kill": kill, "reason": ending.reason}, job, before)

    def _ask_runner(
        self, method: str, kwargs: dict[str, Any], job: Job, before: tuple[RunState, Any]
    ) -> None:
        """Ask for a runner call after the commit; if it fails, go back to `before`."""
        after = (self.run_state, self._end_as)

        def failed(message: str) -> None:
            self._not_carried_out(method, job, before, after, message)

        self.effect(RunnerCall(method, kwargs, job.id, failed))

    def _not_carried_out(
        self,
        method: str,
        job: Job,
        before: tuple[RunState, Any],
        after: tuple[RunState, Any],
        message: str,
    ) -> None:
        """A committed pause, resume or abort failed in the runner (lock held, facts).

        The run state goes back to what it was before the decision, unless something
        (e.g. the job's end) changed it since; the log and LAST_ERROR say what happened.
        """
        if self.current is job and (self.run_state, self._end_as) == after:
            self.run_state, self._end_as = before
            self.touch("state", "current")
        text = f"the {method} of job {job.id} was not carried out: {message}"[:500]
        self.last_error = text
        self.touch("last_error")
        self.log_event(text)

    # -- handlers ------------------------------------------------------------------------

    @control_call
    def pause(self, op: Operation, immediate: bool) -> None:
        """Pause the running job: at its next pause point, or at once (the process tree)."""
        job = self._require_running()
        if self.run_state is RunState.PAUSED:
            raise Rejected(f"job {job.id} is already paused; {texts.ALREADY_PAUSED_HINT}")
        if self.run_state is RunState.ABORTING:
            raise Rejected(f"job {job.id} is being aborted")
        if self.run_state is RunState.PAUSING and not immediate:
            raise Rejected(f"job {job.id} is already pausing; write 2 (IMMEDIATE) to pause now")
        if job.blackbox and not immediate:
            raise Rejected(
                f"job {job.id} is a black-box job: it has no pause points, so it can only be "
                "paused immediately (write 2, IMMEDIATE)"
            )
        self.safety_action()  # carried out even if the store cannot record it
        before = (self.run_state, self._end_as)
        self.run_state = RunState.PAUSING
        self.touch("state")
        kind = "immediate" if immediate else "deferred"
        op.message = f"{kind} pause of job {job.id} requested"
        article = "an" if immediate else "a"
        self.log_event(f"{op.client or 'someone'} asked for {article} {kind} pause of job {job.id}")
        self._ask_runner("pause", {"immediate": immediate}, job, before)

    @control_call
    def resume(self, op: Operation) -> None:
        """Continue the paused job (or cancel a pause not yet taken)."""
        if self.current is None and self.cancel_carried_pause(op):
            return
        job = self._require_running()
        if self.run_state not in (RunState.PAUSED, RunState.PAUSING):
            raise Rejected(f"job {job.id} is not paused")
        before = (self.run_state, self._end_as)
        if self.run_state is RunState.PAUSING:
            self.run_state = RunState.RUNNING
            self.touch("state")
        op.message = f"resuming job {job.id}"
        self.log_event(f"{op.client or 'someone'} resumed job {job.id}")
        self._ask_runner("resume", {}, job, before)

    @control_call
    def abort(self, op: Operation, kill: bool) -> None:
        """End the running job: soft (exception at its next pause point, then escalate) or kill."""
        job = self._require_running()
        self.end_current(op, Ending("aborted", op.client, kill), JobState.ABORTED, hold_after=True)
        op.job_ids = [job.id]
        op.message = f"{'killing' if kill else 'aborting'} job {job.id}"

    @control_call
    def stop(self, op: Operation) -> None:
        """Abort the current job and empty the queue."""
        self.safety_action()  # carried out even if the store cannot record it
        ids = self.queue.ids()
        self._pause_carried = None
        if self.current is not None and self.run_state is not RunState.ABORTING:
            self.end_current(op, Ending("stopped", op.client), JobState.ABORTED, hold_after=False)
        self.delete_queued(op, ids)
        op.message = f"stopping; removed {len(ids)} queued jobs"
        self.log_event(f"{op.client or 'someone'} stopped all jobs and emptied the queue")

    def _require_running(self) -> Job:
        if self.current is None:
            raise Rejected("no job is running")
        return self.current

    # -- runner events -------------------------------------------------------------------

    def on_job_event(self, job_id: int, event: dict[str, Any]) -> None:
        """Apply an event from the runner (any thread): a fact, kept even if not stored."""
        with self.lock:
            job = self.current
            if self.closed:
                log.debug("event for job %s after close ignored: %s", job_id, event.get("type"))
                return
            if job is None or job.id != job_id:
                log.debug("event for job %s ignored (not current): %s", job_id, event.get("type"))
                return
            with self.facts():
                self._job_event(job, event)
            if event.get("type") == "finished":
                self._maybe_start_next()
        self._notify()

    def _job_event(self, job: Job, event: dict[str, Any]) -> None:
        """One runner event about the current job (lock held, in a scope of facts)."""
        kind = event.get("type")
        if kind == "started":
            self.writes.save_job(job, handle=event.get("handle") or {})
        elif kind == "line":
            job.update(line=event.get("line"))
            self.track_line(job)
            self.touch("line")
        elif kind == "progress":
            self.track_progress(event)
            job.update(progress=self.progress(), message=event.get("message") or "")
            self.touch("progress")
        elif kind == "message":
            job.update(message=event.get("text") or "")
            self.touch("progress")
        elif kind == "paused":
            self._paused(job, True)
        elif kind == "resumed":
            self._paused(job, False)
        elif kind == "edited":
            self.edited(job, event)
        elif kind == "edit_received":
            self.edit_received(event)
        elif kind == "plot":
            plotted(self, job.id, event.get("path") or "")
        elif kind == "output":
            self.output_tail = (event.get("tail") or "")[-OUTPUT_TAIL_CHARS:]
            self.touch("output")
        elif kind == "finished":
            self._finished_current(job, event)
        self.touch("current")

    def _finished_current(self, job: Job, event: dict[str, Any]) -> None:
        state = JobState(event.get("state", "FAILED"))
        hold_after = False
        error = event.get("error")
        if self._end_as is not None and state is not JobState.DONE:
            state, hold_after, ending = self._end_as
            error = ended_error(ending, error, job.blackbox, job.line)
        elif self.run_state is RunState.PAUSING:
            self.carry_pause(job)
        finished = now_iso(self.timers.now())
        elapsed = max(0.0, parse_iso(finished) - parse_iso(job.started)) if job.started else None
        job.update(
            state=state,
            finished=finished,
            elapsed=elapsed,
            error=error,
            exit_code=event.get("exit_code"),
        )
        if state is JobState.DONE and job.progress is not None:
            job.update(progress=100.0)
        learned, self.job_progress = self.job_progress, None
        self.current, self.run_state, self._end_as = None, RunState.IDLE, None
        self.edit_reached()  # an edit's put no longer waits for this job
        # e.g. the disk is full: nothing is written, the end is kept in memory and retried
        self.on_store_failure(lambda exc: self.unsaved.keep(job, exc))
        self.record_finished(job)
        if state is JobState.DONE and elapsed is not None:
            self.learn_duration(job, elapsed)
            self.learn_timeline(job, learned, elapsed)
        reason = f": {job.error.get('type')}: {job.error.get('message')}" if job.error else ""
        self.log_event(f"job {job.id} {state.value}{reason}"[:500])
        if event.get("log_error"):  # its log or result file could not be written
            self.log_event(f"job {job.id}: {event['log_error']}"[:500])
        if hold_after:
            self.change_hold(True, f"queue held after job {job.id} was aborted")
        self.touch("queue", "current", "output", "script", "line", "progress")
        if state in (JobState.FAILED, JobState.INTERRUPTED):
            self._after_failure(job)

    def _adopt(self, job: Job, handle: dict | None) -> None:
        """Take over a job left running or paused by a previous server (lock held)."""
        self.current = job
        self.run_state = RunState.PAUSED if job.state is JobState.PAUSED else RunState.RUNNING
        try:
            self.current_source = self.job_source(job)
        except Rejected:
            self.current_source = job.script or ""
        self.log_event(f"reattaching to job {job.id} left running by the previous server")
        self.touch("current", "state", "script")
        # without a process recorded (the server stopped between launching the job and
        # hearing it started) the job may still have run: its result file decides
        kwargs = {"job_id": job.id, "handle": handle or {}, "log_path": str(self.log_path(job.id))}
        self.effect(RunnerCall("adopt", kwargs, job.id, lambda m: self._adopt_failed(job, m)))

    def _adopt_failed(self, job: Job, message: str) -> None:
        """The runner could not take the job over: it is recorded INTERRUPTED (lock held)."""
        if self.current is job:
            error = {"type": "Interrupted", "message": message, "line": None, "traceback": ""}
            self._finished_current(job, {"state": "INTERRUPTED", "error": error})
