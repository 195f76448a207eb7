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
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from typing import Protocol

HISTORY_KEEP = 20

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
