"""Progress of the running job: monotonic, and meaning the whole job (``CURRENT:PROGRESS``).

Pure Python, no I/O; one `JobProgress` per running job, fed under the core's lock.

What a job reports is not its progress: a command called from a script reports its own
percentage (80, then 0 for the next command), and the lines of a loop whose body is one
line are coalesced into one report. So the job's progress combines, best first:

1. progress the job's own code reports (``scope == "job"``), or, for a command job, the
   progress the command reports: it is the whole job. Reports come in steps (``10 %`` at
   the start of each of ten points), so between two reports the value moves on at the
   job's rate (100 % over the estimate, else the rate so far), by at most one more step;
2. the job's timeline (the steps of a dry run, ``{"line", "t"}`` in virtual seconds, and
   its total): the cursor moves to the next step at each reported line; inside a
   *segment* (consecutive steps at one line, e.g. one command call) the position is the
   running command's own progress when it reported one there, else the time spent in the
   segment (the cursor keeps moving through later steps at the same line as time passes,
   so a coalesced loop does not stick at its first iteration);
3. elapsed time over the estimate.

A job with an estimate is never shown ahead of the time it has really run against that
estimate: the value is at most elapsed/estimate (a timeline or a command's own report can
only hold it back, when the job runs slower than estimated), and ``remaining`` is never less
than the estimate minus the elapsed time. A user reads the bar and the time left as "how
long until it is done", and a bar that jumps ahead and then waits misleads them.

The result never goes down and stays below 100 until the job has ended (``PROGRESS_CAP``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .forecast import PROGRESS_CAP, progress_from_elapsed, remaining

MAX_OBSERVED_STEPS = 5000
LEARNED_KEPT = 200


class TimelineCursor:
    """Where a running job is in its timeline, from its reported lines and elapsed time.

    Args:
        steps: ``{"line", "t"}`` dicts or ``(line, t)`` pairs, in order of ``t``.
        total: the timeline's total duration (seconds).
    """

    def __init__(self, steps: Sequence[Any], total: float) -> None:
        pairs = [(s["line"], float(s["t"])) if isinstance(s, dict) else s for s in steps]
        self.lines = [line for line, _ in pairs]
        self.times = [float(t) for _, t in pairs]
        self.total = float(total)
        self.index = -1
        self.entered = 0.0
        self.segment_start = 0

    def move(self, line: int | None, elapsed: float) -> None:
        """The job reported ``line`` at ``elapsed``: go to the next step at that line."""
        if line is None or (self.index >= 0 and self.lines[self.index] == line):
            return
        for index in range(self.index + 1, len(self.lines)):
            if self.lines[index] == line:
                self.index, self.entered, self.segment_start = index, elapsed, index
                return

    def position(self, elapsed: float, fraction: float | None = None) -> float:
        """Virtual seconds of the timeline done at ``elapsed``.

        ``fraction`` (0..1) is how much of the current segment is done when the running
        command reported its own progress in it.
        """
        if not self.times:
            return 0.0
        if self.index < 0:
            return min(elapsed, self.times[0])
        self._follow_repeats(elapsed)
        if fraction is not None:
            start = self.times[self.segment_start]
            return start + min(max(fraction, 0.0), 1.0) * (self._segment_end() - start)
        start = self.times[self.index]
        return min(start + max(elapsed - self.entered, 0.0), self._step_end(self.index))

    def _follow_repeats(self, elapsed: float) -> None:
        """Past the step's simulated length at the same line: a later visit of the line."""
        line = self.lines[self.index]
        while elapsed - self.entered > self._step_end(self.index) - self.times[self.index]:
            later = next(
                (i for i in range(self.index + 1, len(self.lines)) if self.lines[i] == line),
                None,
            )
            if later is None:
                return
            if self.lines[later - 1] != line:
                self.segment_start = later
            self.entered += self.times[later] - self.times[self.index]
            self.index = later

    def _step_end(self, index: int) -> float:
        later = [t for t in self.times[index + 1 :] if t > self.times[index]]
        return later[0] if later else self.total

    def _segment_end(self) -> float:
        index = self.segment_start
        line = self.lines[index]
        while index + 1 < len(self.lines) and self.lines[index + 1] == line:
            index += 1
        return self._step_end(index)


class JobProgress:
    """Percent done of one running job (see the module docstring).

    Args:
        estimate: the job's expected duration in seconds, or None.
        timeline: ``(steps, total)`` of its dry run (or learned), or None.
        command_job: the job is one catalogue command: what it reports is the job's.
    """

    def __init__(
        self,
        estimate: float | None,
        timeline: tuple[Sequence[Any], float] | None = None,
        command_job: bool = False,
    ) -> None:
        self.estimate = estimate
        self.cursor = TimelineCursor(*timeline) if timeline and timeline[1] > 0 else None
        self.command_job = command_job
        self._job_percent: float | None = None
        self._job_reported_at = 0.0
        self._job_step = 0.0
        self._command: tuple[float, int] | None = None  # (fraction, segment it is in)
        self._best: float | None = None
        self.observed: list[tuple[int, float]] = []
        """Lines as they were reported, with elapsed time: a learned timeline once DONE."""

    def line(self, line: int | None, elapsed: float) -> None:
        """The job now runs ``line``."""
        if self.cursor is not None:
            self.cursor.move(line, elapsed)
        if isinstance(line, int) and len(self.observed) < MAX_OBSERVED_STEPS:
            self.observed.append((line, round(elapsed, 3)))

    def reported(self, percent: Any, scope: str, line: int | None, elapsed: float) -> None:
        """The job reported ``percent`` from its own code (``job``) or a command's."""
        if isinstance(percent, bool) or not isinstance(percent, (int, float)):
            return
        if scope == "job" or self.command_job:
            value = float(percent)
            if self._job_percent is not None:
                self._job_step = max(self._job_step, value - self._job_percent)
            self._job_percent, self._job_reported_at = value, elapsed
            return
        if self.cursor is None:  # a command's share of an unknown timeline: unusable
            return
        self.cursor.move(line, elapsed)
        self._command = (float(percent) / 100.0, self.cursor.segment_start)

    def measured(self, elapsed: float) -> float | None:
        """Percent from the job's position (not from elapsed time alone), None if unknown."""
        if self._job_percent is not None:
            return min(self._between_reports(elapsed), PROGRESS_CAP)
        if self.cursor is None:
            return None
        fraction = None
        if self._command is not None and self.cursor.index >= 0:
            self.cursor.position(elapsed)  # follow repeats first: the segment may change
            if self._command[1] == self.cursor.segment_start:
                fraction = self._command[0]
        done = self.cursor.position(elapsed, fraction)
        return min(PROGRESS_CAP, 100.0 * done / self.cursor.total)

    def _between_reports(self, elapsed: float) -> float:
        """The last reported percent, moved on at the job's rate by at most one step."""
        value, since = self._job_percent or 0.0, elapsed - self._job_reported_at
        if self.estimate is not None and self.estimate > 0:
            rate = 100.0 / self.estimate
        elif self._job_reported_at > 0:
            rate = value / self._job_reported_at
        else:
            rate = 0.0
        return value + min(self._job_step, max(since, 0.0) * rate)

    def percent(self, elapsed: float) -> float | None:
        """``CURRENT:PROGRESS``: never lower than the last value returned; None if unknown."""
        value = self.measured(elapsed)
        by_time = progress_from_elapsed(elapsed, self.estimate)
        if value is None or (by_time is not None and value > by_time):
            value = by_time  # never ahead of the time run against the estimate
        if value is not None and (self._best is None or value > self._best):
            self._best = value
        return self._best

    def remaining(self, elapsed: float) -> float | None:
        """``CURRENT:REMAINING`` in seconds, from the estimate and the measured progress.

        Never less than what the estimate says is left (``estimate - elapsed``).
        """
        measured = self.percent(elapsed) if self.measured(elapsed) is not None else None
        left = remaining(self.estimate, elapsed, measured)
        if left is not None and self.estimate is not None and self.estimate >= 0:
            left = max(left, self.estimate - elapsed)
        return left


class LearnedTimelines:
    """Timelines of jobs that ran to the end, by job key, for the next run of the same job.

    In memory only (the last ``LEARNED_KEPT`` jobs); a dry run's timeline is preferred.
    """

    def __init__(self) -> None:
        self._timelines: dict[str, tuple[list[tuple[int, float]], float]] = {}

    def learn(self, key: str, progress: JobProgress, elapsed: float) -> None:
        """Keep what ``progress`` observed of a job that ended DONE after ``elapsed`` s."""
        if not progress.observed or elapsed <= 0:
            return
        self._timelines.pop(key, None)
        self._timelines[key] = (list(progress.observed), float(elapsed))
        while len(self._timelines) > LEARNED_KEPT:
            self._timelines.pop(next(iter(self._timelines)))

    def get(self, key: str) -> tuple[list[tuple[int, float]], float] | None:
        """The learned ``(steps, total)`` of the job with ``key``, or None."""
        return self._timelines.get(key)
