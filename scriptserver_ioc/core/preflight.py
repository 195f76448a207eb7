"""Pre-flight verdicts on queued jobs and the QUEUE:ON_INVALID policy.

A mixin of `ScriptServer`. The pre-flight worker (`validate.preflight.PreflightWorker`)
asks for the next queued job to check with `next_preflight`, dry-runs it on its own thread
(never the Channel Access thread, never under this lock) and hands the record back with
`apply_preflight`. A job's `preflight` is None until it has been checked against the
current catalogue revision; an edit replaces the job object, so its verdict starts over.

With `ON_INVALID=HOLD` the queue does not start a job whose verdict is `fails`: it holds,
saying which job and why. A check never delays a job: when a job's turn comes and its
pre-flight is still under way, the queue waits at most `preflight_wait` seconds (the
worker's `wait`, `--preflight-wait`, default 0.5 s) for the verdict, then starts the job; a
job added to an idle, empty queue starts at once. A verdict that arrives once the job runs,
or even after it ended, is recorded on it (its history record, once it ended); a `fails`
then only warns (`LOG`, `LAST_ERROR`): it never stops the job.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from ..contract.texts import preflight_text
from .bounds import bounded_estimate
from .jobs import Job
from .operation import Operation, control_call
from .ports import Cancellable
from .specs import Rejected

log = logging.getLogger(__name__)

FAILS = "fails"
PREFLIGHT_WAIT = 0.5
"""Seconds a job whose turn came waits for its pre-flight verdict at most (a worker's
`wait` overrides it)."""
ESTIMATE_SOURCES_REPLACED = ("none", "dry-run")
"""Estimate sources a pre-flight estimate replaces (history and declared ones are kept)."""


@dataclass
class PreflightTask:
    """One job to pre-flight: the job object (identity marks its version) and what to run."""

    job: Job
    record: dict[str, Any]
    source: str | None
    filename: str
    revision: int
    stamp: str
    problem: str | None = None
    source_digest: str | None = None
    """Digest of the script text a `file` job carries (`PreflightControl.file_digest`)."""


class PreflightControl:
    """Handlers and hooks of pre-flight checks (mixin of ScriptServer; lock held inside)."""

    preflight_worker: Any = None
    on_invalid_hold: bool = True
    hold_reason: str = ""
    _starts_unchecked: int | None = None
    _stamp: tuple[int, str] | None = None
    paused_since: float | None = None
    paused_total: float = 0.0
    _turn: tuple[int, float] | None = None
    """(job id, monotonic time) of the job whose turn came while its check was under way."""
    _turn_timer: Cancellable | None = None

    def attach_preflight(self, worker: Any) -> None:
        """Connect the pre-flight worker; from now on queued jobs get verdicts."""
        with self.lock:
            self.preflight_worker = worker

    def load_preflight_settings(self) -> None:
        """Read ON_INVALID from the store (at start and after a failed commit)."""
        self.on_invalid_hold = bool(self.store.setting("on_invalid_hold", True))

    def note_queued(self, jobs: list[Job]) -> None:
        """New jobs are being queued (lock held): one that will start at once is not awaited."""
        idle = self.current is None and not self.hold and not self.queue
        self._starts_unchecked = jobs[0].id if idle and jobs else None
        if idle and jobs:
            self.scripts.fresh(jobs[0])  # read in this write: it starts with that text

    def catalogue_stamp(self) -> str:
        """Digest of the catalogue's content (a revision number restarts with the server)."""
        revision = self.catalogue.revision
        if self._stamp is None or self._stamp[0] != revision:
            text = json.dumps(self.catalogue.to_json(), sort_keys=True, default=repr)
            self._stamp = (revision, hashlib.sha256(text.encode()).hexdigest()[:16])
        return self._stamp[1]

    @staticmethod
    def file_digest(job: Job) -> str | None:
        """Digest of the script a `file` job carries (`Job.file_text`), else None."""
        script = job.file_text if job.kind == "file" else None
        return script.digest if script is not None else None

    def preflight_stale(self, job: Job) -> bool:
        """True if the job has no verdict made with the catalogue (and file) as it is now.

        A `file` job's verdict also belongs to the script's content: a file edited on disk
        after its check is checked again (its text is read again off the lock before the
        worker looks for work, `core.script_files`, and once more at the job's turn).
        """
        record = job.preflight
        if record is None or record.get("catalogue") != self.catalogue_stamp():
            return True
        return job.kind == "file" and record.get("source") != self.file_digest(job)

    def next_preflight(self, busy: set[int]) -> PreflightTask | None:
        """The first queued job (in run order) without a current verdict, not in `busy`.

        Then the running job, if it started before its check began (the queue waits only
        `preflight_wait` s for a verdict): a verdict that comes later is still its record.
        The scripts of queued `file` jobs are read again first, without the lock.
        """
        self.scripts.refresh_queued()
        with self.lock:
            running = self.current
            if running is not None and running.preflight is not None:
                running = None
            for job in [*self.queue, *([running] if running is not None else [])]:
                if job.id in busy or not self.preflight_stale(job):
                    continue
                if job.kind == "file" and job.file_text is None:
                    continue  # not read yet (loaded at start-up): the next look has it
                problem = None
                try:
                    source: str | None = self.job_source(job)
                    filename = self.job_filename(job)
                except Rejected as exc:
                    source, filename, problem = None, "", str(exc)
                return PreflightTask(
                    job,
                    job.check_record(),
                    source,
                    filename,
                    self.catalogue.revision,
                    self.catalogue_stamp(),
                    problem,
                    self.file_digest(job),
                )
        return None

    def apply_preflight(self, job: Job, record: dict[str, Any]) -> None:
        """Keep a verdict on the job it was made for (if still queued unchanged), go on."""
        with self.lock:
            if self.queue.get(job.id) is job:
                estimate, problem = bounded_estimate(record.get("estimate"))
                if problem:
                    record = dict(record, estimate=None, warnings=[*record["warnings"], problem])
                changes: dict[str, Any] = {"preflight": record}
                if estimate is not None and job.estimate_source in ESTIMATE_SOURCES_REPLACED:
                    changes.update(estimate=estimate, estimate_source="dry-run")
                with self.facts():  # the verdict is advice: kept in memory if not stored
                    self.queue.update_job(job, **changes)
                    self.writes.save_jobs([(job, self.queue.keys[job.id])])
                    if record.get("verdict") == FAILS:
                        self.log_event(f"pre-flight of job {job.id}: {describe(record)}"[:500])
                self.touch("queue")
                self._maybe_start_next()
            elif self.current is job:
                job.update(preflight=record)
                self.touch("current")
                if record.get("verdict") == FAILS:  # it started before its check ended
                    self.last_error = (
                        f"job {job.id} is running, but its {describe(record)} "
                        "(the check finished after the job started; the job goes on)"
                    )[:500]
                    self.touch("last_error")
                    with self.facts():
                        self.log_event(self.last_error)
            elif any(ended is job for ended in self.history):
                self._keep_on_finished(job, record)
        self._notify()

    def _keep_on_finished(self, job: Job, record: dict[str, Any]) -> None:
        """A verdict that came after its job ended: kept on the history record (lock held).

        The row keeps its place in the history (no new `finish_job`); a `fails` only warns.
        A job whose end is still kept in memory (the store was full) is written with its
        verdict when its end is.
        """
        with self.facts():  # a fact: the check was made, whatever the store says
            job.update(preflight=record)
            if job not in self.unsaved.jobs:
                self.writes.save_jobs([(job, None)])  # position None: stays in the history
            if record.get("verdict") == FAILS:
                self.last_error = (
                    f"job {job.id} ended {job.state.value}, but its {describe(record)} "
                    "(the check finished after the job ended)"
                )[:500]
                self.touch("last_error")
                self.log_event(self.last_error)
        self.touch("history", "last")

    def preflight_blocks(self, job: Job) -> bool:
        """True if the queue must not start `job` now (lock held); holds it if it fails."""
        if not self.on_invalid_hold or self.preflight_worker is None:
            return False
        if self.preflight_stale(job):
            return job.id != self._starts_unchecked and self._waiting_for_verdict(job)
        if job.preflight.get("verdict") != FAILS:  # type: ignore[union-attr]
            return False
        why = f"queue held before job {job.id} ({job.name[:80]}): {describe(job.preflight)}"
        self.change_hold(True, why[:500])
        return True

    def _waiting_for_verdict(self, job: Job) -> bool:
        """True until `job` has waited `preflight_wait` s for its verdict (lock held).

        A timer looks again when the wait is over, so the job starts then without anything
        else happening.
        """
        wait = float(getattr(self.preflight_worker, "wait", PREFLIGHT_WAIT))
        now = self.timers.monotonic()
        if self._turn is None or self._turn[0] != job.id:
            self._turn = (job.id, now)
            if self._turn_timer is not None:
                self._turn_timer.cancel()
            self._turn_timer = None
        left = self._turn[1] + wait - now
        if left <= 0:
            return False
        if self._turn_timer is None:
            self._turn_timer = self.timers.call_later(left + 0.01, self._verdict_wait_over)
        return True

    def _verdict_wait_over(self) -> None:
        """Timer: a job waited long enough for its verdict; start it if it is still next."""
        with self.lock:
            self._turn_timer = None
            self._maybe_start_next()  # type: ignore[attr-defined]
        self._notify()  # type: ignore[attr-defined]

    def note_paused(self, paused: bool) -> None:
        """The current job paused or resumed (lock held): paused time does not count as work."""
        now = self.timers.now()
        if paused and self.paused_since is None:
            self.paused_since = now
        elif not paused and self.paused_since is not None:
            self.paused_total += now - self.paused_since
            self.paused_since = None

    def active_elapsed(self) -> float:
        """Seconds the current job has worked: elapsed minus paused.

        So the current job's remaining time, and QUEUE:FINISH, move later while it is paused.
        """
        elapsed = self.elapsed() or 0.0
        paused = self.paused_total
        if self.paused_since is not None:
            paused += self.timers.now() - self.paused_since
        return max(0.0, elapsed - paused)

    @control_call
    def set_on_invalid(self, op: Operation, hold: bool) -> None:
        """Before a job whose pre-flight fails: hold the queue, or run the job anyway."""
        self.on_invalid_hold = hold
        self.writes.set_setting("on_invalid_hold", self.on_invalid_hold)
        self.touch("settings")
        op.message = "before a job whose pre-flight fails: " + ("hold" if hold else "run")
        who = f"{op.client}: " if op.client else ""
        self.log_event(f"{who}set ON_INVALID to {'HOLD' if hold else 'RUN'}")


def describe(record: dict[str, Any] | None) -> str:
    """`pre-flight fails at line 4: NameError: ...` for messages a person reads."""
    return f"pre-flight {preflight_text(record)}" if record else "not checked yet"
