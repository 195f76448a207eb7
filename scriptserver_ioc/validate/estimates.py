"""Duration estimates: where they come from, progress, remaining time and queue ETA.

Pure functions (plus a small tracker), no I/O. Durations are seconds; unknown is ``None``
(the IOC shows ``-1``).

Estimate precedence (first that is known wins), from the best predictor to the worst:

1. ``history``: the median of the measured durations of earlier runs of exactly the same job
   (same command and bound arguments, or the same script text), the last
   ``HISTORY_KEEP`` runs. A measurement of the same job includes everything the declared
   estimates forget (settling, overheads, beam conditions); the median ignores an outlier.
2. ``declared``: the command's own ``estimate_<name>`` / ``DoRun().estimate_time``.
3. ``dry-run``: the virtual time of a dry run (for scripts, which declare nothing; it already
   adds the declared estimates of the commands a script calls and its sleeps).
4. ``none``.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from bisect import bisect_right
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

HISTORY_KEEP = 20
PROGRESS_CAP = 99.0

HISTORY, DECLARED, DRY_RUN, NONE = "history", "declared", "dry-run", "none"


class DurationHistory(Protocol):
    """Measured durations of earlier runs, by job key (implemented by the store).

    Only jobs that finished ``DONE`` should be recorded: a failed or aborted run says nothing
    about how long the job takes.
    """

    def durations(self, key: str) -> list[float]:
        """Durations in seconds of earlier runs of the job with this key, oldest first."""
        ...


class MemoryDurationHistory:
    """In-memory DurationHistory keeping the last ``keep`` durations per key."""

    def __init__(self, keep: int = HISTORY_KEEP) -> None:
        self._runs: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=keep))

    def add(self, key: str, seconds: float) -> None:
        """Record one measured duration."""
        self._runs[key].append(float(seconds))

    def durations(self, key: str) -> list[float]:
        """Durations recorded for ``key``, oldest first."""
        return list(self._runs.get(key, ()))


def _normalise_text(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def job_key(job: dict, source: str | None = None) -> str:
    """Identity of a job for learned durations: same key = same work.

    Command jobs: kind, command and canonical JSON of the bound arguments (so ``set_ei(25)``
    and ``set_ei(energy=25.0)`` match once bound). Scripts: the text with trailing
    whitespace removed. File jobs: the path and, if given, the file's text (an edited file is
    a different job).

    Returns:
        ``"<kind>:<sha256 hex>"``.
    """
    kind = job.get("kind") or infer_kind(job)
    if kind == "command":
        args = json.dumps(
            job.get("args") or {}, sort_keys=True, separators=(",", ":"), default=repr
        )
        material = f"command\0{job.get('command')}\0{args}"
    elif kind == "file":
        text = _normalise_text(source) if source is not None else ""
        material = f"file\0{job.get('file')}\0{text}"
    else:
        material = "script\0" + _normalise_text(job.get("script") or source or "")
    return f"{kind}:{hashlib.sha256(material.encode('utf-8', 'surrogatepass')).hexdigest()}"


SCALING_PARAMETERS = ("uamps", "frames", "raw_frames", "mevents", "seconds", "minutes", "hours")
"""Arguments a command's duration is taken to be proportional to (how ISIS counts)."""


def scaled_key(job: dict) -> tuple[str, float] | None:
    """Key and amount of a command job whose duration scales with one argument.

    ``count(seconds=60, title="x")`` and ``count(seconds=600, title="x")`` share the key of
    ``count(title="x")`` per second: a measured duration divided by the amount is a rate,
    and the rate times a new amount an estimate. None when the job has no single positive
    amount among ``SCALING_PARAMETERS``.
    """
    if (job.get("kind") or infer_kind(job)) != "command":
        return None
    args = job.get("args") or {}
    if not isinstance(args, dict):
        return None
    found = [
        (name, value)
        for name, value in args.items()
        if name in SCALING_PARAMETERS
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
        and 0 < value < 1e12
    ]
    if len(found) != 1:
        return None
    name, amount = found[0]
    rest = {k: v for k, v in args.items() if k != name}
    key = job_key({"kind": "command", "command": f"{job.get('command')} per {name}", "args": rest})
    return key, float(amount)


def infer_kind(job: dict) -> str:
    """The kind of a job record without ``kind``, from the keys it has (the one rule).

    ``command`` or ``call``: a command job; ``file``: a file job; else a script job.
    """
    for key, kind in (("command", "command"), ("call", "command"), ("file", "file")):
        if job.get(key) is not None:
            return kind
    return "script"


def median_duration(durations: Iterable[float], keep: int = HISTORY_KEEP) -> float | None:
    """Median of the last ``keep`` valid durations, or None when there are none."""
    valid = [float(d) for d in durations if d is not None and d >= 0]
    if not valid:
        return None
    return float(statistics.median(valid[-keep:]))


def choose_estimate(
    history: Sequence[float] | None = None,
    declared: float | None = None,
    dry_run: float | None = None,
) -> tuple[float | None, str]:
    """Pick the estimate and its source by the precedence in the module docstring.

    Returns:
        ``(seconds or None, source)`` with source one of ``history``, ``declared``,
        ``dry-run``, ``none``.
    """
    learned = median_duration(history or ())
    if learned is not None:
        return learned, HISTORY
    if declared is not None and declared >= 0:
        return float(declared), DECLARED
    if dry_run is not None and dry_run >= 0:
        return float(dry_run), DRY_RUN
    return None, NONE


def progress_from_elapsed(elapsed: float, estimate: float | None) -> float | None:
    """Percent done from elapsed time over the estimate, capped at 99 until the job ends."""
    if estimate is None or estimate < 0:
        return None
    if estimate == 0:
        return PROGRESS_CAP
    return min(PROGRESS_CAP, max(0.0, 100.0 * elapsed / estimate))


def remaining(
    estimate: float | None, elapsed: float, progress: float | None = None
) -> float | None:
    """Seconds left for the current job (``CURRENT:REMAINING``), None when unknown.

    Args:
        estimate: expected total duration, or None.
        elapsed: seconds since the job started (excluding nothing: pauses count).
        progress: percent done reported by the job itself or derived from a dry-run timeline
            (not from elapsed/estimate, which would be circular), or None.

    With only an estimate: ``estimate - elapsed``, and 0 once overrun (it should end any
    moment). With only progress: ``elapsed * (100 - p) / p``. With both, a blend that trusts
    the progress more as it grows: weight ``p/100`` on the progress-based figure.
    """
    by_estimate = None if estimate is None or estimate < 0 else max(estimate - elapsed, 0.0)
    if progress is None or progress <= 0:
        return by_estimate
    if progress >= 100:
        return 0.0
    by_progress = max(elapsed, 0.0) * (100.0 - progress) / progress
    if by_estimate is None:
        return by_progress
    weight = progress / 100.0
    return (1.0 - weight) * by_estimate + weight * by_progress


def _step_fields(step: Any) -> tuple[int | None, float]:
    if isinstance(step, dict):
        return step.get("line"), float(step.get("t") or 0.0)
    return step[0], float(step[1])


def _step_end(times: list[float], index: int, total: float) -> float:
    """Virtual time at which the step at ``index`` ends (start of the next later step)."""
    position = bisect_right(times, times[index])
    return times[position] if position < len(times) else total


def timeline_progress(
    steps: Sequence[Any], line: int, elapsed: float, total: float | None
) -> float | None:
    """Percent done from the job's position in its dry-run timeline (stateless guess).

    Args:
        steps: the dry run's steps, dicts ``{"line", "t", ...}`` or ``(line, t)`` pairs,
            in order.
        line: the line the job is executing now.
        elapsed: seconds since the job started.
        total: the dry run's total (virtual) duration.

    Among the steps at ``line``, takes the one whose virtual start is closest to ``elapsed``
    and places the job inside it (clamped to the step). Returns None when the line is not in
    the timeline or the total is unknown; at most 99 %. ``TimelineTracker`` does better when
    line changes are seen in order.
    """
    if not total or total <= 0 or not steps:
        return None
    parsed = [_step_fields(s) for s in steps]
    times = [t for _, t in parsed]
    best = None
    for index, (step_line, t) in enumerate(parsed):
        if step_line == line and (best is None or abs(t - elapsed) < abs(times[best] - elapsed)):
            best = index
    if best is None:
        return None
    start, end = times[best], _step_end(times, best, total)
    position = min(max(elapsed, start), end)
    return min(PROGRESS_CAP, 100.0 * position / total)


class TimelineTracker:
    """Follows a running job through its dry-run timeline as line changes arrive.

    Each reported line moves a cursor forward to the next step at that line; the position
    inside the step advances with the real time spent since the step was entered (clamped to
    the step's simulated length). Lines not in the timeline (coalesced away) leave the cursor
    where it is. Not thread-safe: one per running job, fed from one thread.
    """

    def __init__(self, steps: Sequence[Any], total: float) -> None:
        parsed = [_step_fields(s) for s in steps]
        self._lines = [line for line, _ in parsed]
        self._times = [t for _, t in parsed]
        self.total = float(total)
        self._cursor = -1
        self._entered = 0.0

    def update(self, line: int | None, elapsed: float) -> float | None:
        """Percent done (at most 99) after the job reported ``line`` at ``elapsed``."""
        if self.total <= 0 or not self._times:
            return None
        if line is not None and (self._cursor < 0 or self._lines[self._cursor] != line):
            for index in range(self._cursor + 1, len(self._lines)):
                if self._lines[index] == line:
                    self._cursor, self._entered = index, elapsed
                    break
        if self._cursor < 0:
            position = min(elapsed, self._times[0])
        else:
            start = self._times[self._cursor]
            end = _step_end(self._times, self._cursor, self.total)
            position = min(start + max(elapsed - self._entered, 0.0), end)
        return min(PROGRESS_CAP, 100.0 * position / self.total)


def queue_eta(current_remaining: float | None, queued_estimates: Iterable[float | None]) -> float:
    """``QUEUE:ETA``: current job's remaining time plus every queued estimate (unknown = 0)."""
    total = current_remaining if current_remaining is not None and current_remaining > 0 else 0.0
    for estimate in queued_estimates:
        if estimate is not None and estimate > 0:
            total += estimate
    return float(total)


def queue_finish(eta: float | None, now: datetime | None = None, idle: bool = False) -> str:
    """``QUEUE:FINISH``: local time of day when the queue should be done, ``-`` when idle.

    A finish on a later day gets ``" +Nd"`` (e.g. ``"07:40:12 +1d"``).
    """
    if idle or eta is None or eta < 0:
        return "-"
    now = now or datetime.now().astimezone()
    try:
        finish = now + timedelta(seconds=eta)
    except (OverflowError, ValueError):  # beyond the calendar (year 9999) or NaN
        return "-" if eta != eta else f"in {eta / 31_557_600:.3g} years"
    text = finish.strftime("%H:%M:%S")
    days = (finish.date() - now.date()).days
    return f"{text} +{days}d" if days > 0 else text


def group_estimates(jobs: Iterable[dict]) -> dict[str, dict]:
    """Per batch group (``tags.group``): size, how many are still queued, their estimate.

    Returns:
        ``{group: {"count", "queued", "estimate", "unknown"}}``: ``count`` is the batch size
        from ``tags.count`` (else the number of jobs seen), ``estimate`` the sum of the
        queued jobs' estimates (unknown count 0) and ``unknown`` how many had none. Jobs
        without a ``state`` count as queued.
    """
    groups: dict[str, dict] = {}
    seen: dict[str, int] = defaultdict(int)
    for job in jobs:
        tags = job.get("tags") or {}
        group = tags.get("group") if isinstance(tags, dict) else None
        if group is None or group == "":
            continue
        group = str(group)
        entry = groups.setdefault(group, {"count": 0, "queued": 0, "estimate": 0.0, "unknown": 0})
        seen[group] += 1
        count = tags.get("count")
        if isinstance(count, int) and not isinstance(count, bool):
            entry["count"] = max(entry["count"], count)
        if job.get("state", "QUEUED") == "QUEUED":
            entry["queued"] += 1
            estimate = job.get("estimate")
            if estimate is None or estimate < 0:
                entry["unknown"] += 1
            else:
                entry["estimate"] += float(estimate)
    for group, entry in groups.items():
        entry["count"] = max(entry["count"], seen[group])
    return groups
