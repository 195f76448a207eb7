"""Following the running job: progress, timeline, pauses (and one left over by the last).

A mixin of `ScriptServer` (with `ExecutionControl`); every method runs with the core's lock
held. The rules themselves live in `core.progress` (percent done) and `core.groups`.
"""

from __future__ import annotations

from typing import Any

from ..contract.enums import JobState, RunState
from .jobs import Job
from .operation import Operation
from .progress import JobProgress


class JobTracking:
    """Progress of the running job, and a deferred pause carried over to the next job."""

    _pause_carried: int | None = None
    """Id of a job that ended with a deferred pause not yet taken: the next job starts paused."""

    def new_job_progress(self, job: Job) -> JobProgress:
        """The progress tracker of a job that starts now."""
        return JobProgress(job.estimate, self._timeline_of(job), command_job=job.kind == "command")

    def _timeline_of(self, job: Job) -> Any:
        """The job's dry-run timeline, else the one learned when it last ran to the end."""
        timeline = self.validator.timeline(job.check_record())
        key_of = getattr(self.validator, "job_key", None)
        if timeline is None and key_of is not None:
            timeline = self.learned_timelines.get(key_of(job.check_record()))
        return timeline

    def track_line(self, job: Job) -> None:
        """The running job reported a new line."""
        if self.job_progress is not None:
            self.job_progress.line(job.line, self.active_elapsed())

    def track_progress(self, event: dict[str, Any]) -> None:
        """The running job (or a command in it) reported progress."""
        if self.job_progress is not None:
            self.job_progress.reported(
                event.get("percent"),
                event.get("scope") or "job",
                event.get("line"),
                self.active_elapsed(),
            )

    def learn_duration(self, job: Job, seconds: float) -> None:
        """Remember how long a job took, for history-based estimates."""
        learned = getattr(self.validator, "learned_durations", None)
        if learned is not None:  # its own key, rates per amount, overhead, beam rates
            for key, value in learned(job.check_record(), seconds):
                self.writes.add_duration(key, value)

    def learn_timeline(self, job: Job, progress: JobProgress | None, elapsed: float) -> None:
        """Keep the timeline of a job that ended DONE, for its next run."""
        key_of = getattr(self.validator, "job_key", None)
        if progress is not None and key_of is not None:
            self.learned_timelines.learn(key_of(job.check_record()), progress, elapsed)

    def _paused(self, job: Job, paused: bool) -> None:
        if self.run_state is RunState.ABORTING:
            return
        self.run_state = RunState.PAUSED if paused else RunState.RUNNING
        self.note_paused(paused)
        job.update(state=JobState.PAUSED if paused else JobState.RUNNING)
        self.writes.save_job(job)
        self.log_event(
            f"job {job.id} {'paused' if paused else 'resumed'}"
            + (f" at line {job.line}" if paused and job.line else "")
        )
        self.touch("state")

    def take_carried_pause(self, job: Job) -> bool:
        """Apply a deferred pause left by the previous job to `job`, which starts now."""
        asked_in, self._pause_carried = self._pause_carried, None
        if asked_in is None:
            return False
        if job.blackbox:
            self.log_event(
                f"the deferred pause asked during job {asked_in} is cancelled: job {job.id} "
                "is black-box and has no pause points"
            )
            return False
        self.run_state = RunState.PAUSING
        self.log_event(
            f"job {job.id} starts paused: the deferred pause asked during job {asked_in} "
            "had not taken effect when it ended"
        )
        return True

    def carry_pause(self, job: Job) -> None:
        """`job` ends with a deferred pause not yet taken: the next job starts paused."""
        self._pause_carried = job.id

    def cancel_carried_pause(self, op: Operation) -> bool:
        """RESUME while idle: cancel a carried pause; False if there is none."""
        if self._pause_carried is None:
            return False
        op.message = f"the deferred pause asked during job {self._pause_carried} is cancelled"
        self.log_event(f"{op.client or 'someone'} cancelled the {op.message[4:]}")
        self._pause_carried = None
        return True
