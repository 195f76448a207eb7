"""Pre-flight: every queued job dry-run in the background before its turn.

`PreflightWorker` keeps a few threads that ask the core for the next queued job without a
verdict (`core.next_preflight`, in run order, so the next job to run is checked first),
dry-run it with `Validator.dry_run` (a process of its own, at low CPU priority) and hand
the record back (`core.apply_preflight`). Nothing here runs on the Channel Access thread or
holds the core's lock while a dry run goes on, so the running job's pause and abort are
answered as quickly as without pre-flights.

The record kept on the job (`preflight` in the job record)::

    {"verdict": "ok" | "warnings" | "fails" | "unknown", "line": 12 | null,
     "message": "NameError: name 'x' is not defined", "warnings": [...],
     "estimate": 7260.0 | null, "partial_estimate": {"seconds": 30.0, "line": 12} | null,
     "beam": {...} | null, "revision": 3,
     "withheld": ["would remove `old.txt` (line 5)", "wrote 2 files to its scratch space"],
     "catalogue": "<digest of the catalogue checked against>",
     "checked": "2026-12-01T09:00:00.000+00:00", "seconds": 0.31}

`fails`: the dry run raised at a line of the job's code. `unknown`: it could not be
simulated (stopped at the real-time limit, a prelude or command import that failed, the
interpreter could not start, or it met an effect a dry run does not carry out: a program,
network traffic); `message` says why. `withheld`: what the dry run did not do (files it
would remove or rename, what it wrote to its scratch space, PV writes not sent).
`partial_estimate`: for a dry run stopped by such an effect, the time counted up to it (the
job takes at least that; nothing past the stop was counted).
`warnings`: it ran, but something needs a look (the job's own warnings from its checks at
submit, or the dry run's). Identical jobs
(same content, same catalogue revision) share one dry run.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

from scriptserver_ioc.core.jobs import now_iso
from scriptserver_ioc.validate.dryrun import HALTED

logger = logging.getLogger(__name__)

OK, WARNINGS, FAILS, UNKNOWN = "ok", "warnings", "fails", "unknown"
VERDICTS = (OK, WARNINGS, FAILS, UNKNOWN)
CACHE_SIZE = 1000
RECHECK_INTERVAL = 2.0
"""Seconds between looks for queued file jobs edited on disk (a stat per file job)."""


def preflight_record(
    result: dict[str, Any], job_warnings: list[str] | None, revision: int
) -> dict[str, Any]:
    """The verdict of a dry-run result (the ``dry_run`` object of VALIDATE:RESULT).

    Args:
        result: what ``Validator.dry_run`` returned.
        job_warnings: the warnings the job got when it was queued.
        revision: catalogue revision the dry run used.
    """
    error = result.get("error") if isinstance(result.get("error"), dict) else {}
    warnings = [str(w) for w in result.get("warnings") or []]
    warnings += [f"dry run: {note}" for note in result.get("notes") or []]
    line, message = None, ""
    if result.get("ok"):
        verdict = WARNINGS if warnings or job_warnings else OK
    elif error.get("type") in ("DryRunTimeout", HALTED) or error.get("line") is None:
        verdict, message = UNKNOWN, str(error.get("message") or "the dry run gave no result")
    else:
        verdict, line, message = FAILS, error.get("line"), str(error.get("message") or "")
    return {
        "verdict": verdict,
        "line": line,
        "message": message[:2000],
        "warnings": warnings[:50],
        "estimate": result.get("estimate") if result.get("ok") else None,
        "partial_estimate": partial_estimate(result, error),
        "beam": result.get("beam"),
        "withheld": [str(w) for w in result.get("withheld") or []][:50],
        "revision": revision,
        "checked": now_iso(),
        "seconds": result.get("real_seconds"),
    }


def partial_estimate(result: dict[str, Any], error: dict[str, Any]) -> dict[str, Any] | None:
    """What a dry run stopped by an effect counted: ``{"seconds": 30.0, "line": 12}``.

    The job takes at least `seconds` (virtual time up to the stop at `line`); what follows
    the stop was not counted. None for a dry run that was not stopped by an effect.
    """
    if error.get("type") != HALTED:
        return None
    steps = [s for s in result.get("steps") or [] if isinstance(s, dict) and "t" in s]
    seconds = float(steps[-1]["t"]) if steps else 0.0
    return {"seconds": round(seconds, 3), "line": error.get("line")}


def check_calls(catalogue: Any, calls: list[dict] | None) -> dict[str, Any] | None:
    """The first command call of a dry run whose arguments do not bind, as a job error.

    Each call the job made of a catalogue command (``calls`` of the dry-run result, in the
    order made, with the arguments as passed) is bound like a command job's arguments
    (``Catalogue.bind``: names, count, types), so the message names the parameter.
    """
    for call in calls or []:
        try:
            args, kwargs = list(call.get("args") or []), dict(call.get("kwargs") or {})
            catalogue.bind(call["name"], args, kwargs)
        except ValueError as exc:
            message = str(exc)
            return {"type": "InvalidArguments", "message": message, "line": call.get("line")}
        except (KeyError, TypeError):
            continue
    return None


def preflight(
    validator: Any,
    job: dict[str, Any],
    source: str,
    filename: str,
    revision: int,
    time_limit: float | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Dry-run one job and check every command call it made; the pre-flight record.

    Blocking (a process of its own): call it from a worker thread.
    """
    result = validator.dry_run(
        job, source, filename, time_limit=time_limit, env=env, low_priority=True
    )
    refused = check_calls(validator.catalogue, result.get("calls"))
    if refused is not None:
        result = dict(result, ok=False, error=refused)
    return preflight_record(result, job.get("warnings"), revision)


def with_overhead(record: dict[str, Any], overhead: float) -> dict[str, Any]:
    """The record with the job's learned overhead added to its estimate.

    ``simulated`` keeps the dry run's own virtual duration, ``overhead`` what was added
    (start-up, hand-over: ``learning.learned_overhead``), ``estimate`` their sum.
    """
    simulated = record.get("simulated", record.get("estimate"))
    record["simulated"] = simulated
    record["overhead"] = round(overhead, 3) if simulated is not None else None
    record["estimate"] = simulated + overhead if simulated is not None else None
    return record


def unknown_record(message: str, revision: int) -> dict[str, Any]:
    """The record of a job that could not even be handed to a dry run."""
    return preflight_record(
        {"ok": False, "error": {"type": "DryRunFailed", "message": message, "line": None}},
        None,
        revision,
    )


class PreflightWorker:
    """Background pre-flight of queued jobs.

    Threading: the core calls `changed` (a listener) from any thread; it only sets an event.
    Worker threads take the core's lock only inside `next_preflight` and `apply_preflight`.

    Args:
        core: the `core.ScriptServer` (``next_preflight``, ``apply_preflight``,
            ``add_listener``, ``attach_preflight``).
        validator: the `Validator` (``dry_run``, ``job_key``).
        workers: dry runs at a time (each is a process).
        time_limit: real seconds a pre-flight dry run may take (default: the validator's).
        env: environment of the dry-run processes (beam model options, for example).
        recheck_interval: seconds between looks for queued ``file`` jobs whose script
            changed on disk (with nothing else to do).
        wait: seconds a job whose turn came waits at most for its verdict before it starts
            (``core.preflight``; a check never delays a job longer).
    """

    def __init__(
        self,
        core: Any,
        validator: Any,
        *,
        workers: int = 1,
        time_limit: float | None = None,
        env: dict[str, str] | None = None,
        recheck_interval: float = RECHECK_INTERVAL,
        wait: float = 0.5,
    ) -> None:
        self.core = core
        self.wait = wait
        self.validator = validator
        self.workers = max(1, int(workers))
        self.time_limit = time_limit
        self.env = env
        self.checked = 0
        self.recheck_interval = recheck_interval
        """Dry runs made (identical jobs answered from the cache are not counted)."""
        self._busy: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending_wake = True
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._cache: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()

    def start(self) -> None:
        """Attach to the core and start the worker threads."""
        self.core.add_listener(self.changed)
        self.core.attach_preflight(self)
        for n in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"preflight-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; a dry run under way is left to end on its own time limit."""
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def changed(self, topics: set[str]) -> None:
        """Core listener: queued jobs or the catalogue changed; look for work."""
        if topics & {"queue", "commands"}:
            with self._lock:
                self._pending_wake = True
                self._wake.notify_all()

    def idle(self) -> bool:
        """True when no dry run is under way and no job waits for one (for tests/benches)."""
        with self._lock:
            busy = bool(self._busy)
        return not busy and self.core.next_preflight(set()) is None

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._pending_wake and not self._stopping:
                    if not self._wake.wait(self.recheck_interval):
                        self._pending_wake = True  # look for file jobs edited on disk
                if self._stopping:
                    return
                self._pending_wake = False
                busy = set(self._busy)
            task = self.core.next_preflight(busy)  # never under our lock: the core's comes first
            if task is None:
                continue
            with self._lock:
                self._pending_wake = True  # more may wait: another worker (or this one) looks
                if task.job.id in self._busy:
                    continue
                self._busy.add(task.job.id)
            try:
                record = self.check(task)
            except Exception as exc:  # a bug here must not stop pre-flights
                logger.exception("pre-flight of job %s failed", task.job.id)
                record = unknown_record(f"the pre-flight itself failed: {exc}", task.revision)
            finally:
                with self._lock:
                    self._busy.discard(task.job.id)
            try:
                self.core.apply_preflight(task.job, record)
            except Exception:  # the next jobs must still be checked
                logger.exception("keeping the pre-flight verdict of job %s failed", task.job.id)

    def check(self, task: Any) -> dict[str, Any]:
        """The pre-flight record of one task (a `core.preflight.PreflightTask`)."""
        if task.source is None:
            record = unknown_record(task.problem or "the job's code cannot be read", task.revision)
            return dict(record, catalogue=task.stamp, source=task.source_digest)
        key = (self.validator.job_key(task.record), task.stamp)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            record = dict(task.record, warnings=[])  # the job's own warnings are added below
            checked = preflight(
                self.validator,
                record,
                task.source,
                task.filename,
                task.revision,
                self.time_limit,
                self.env,
            )
            cached = dict(checked, catalogue=task.stamp)
            with self._lock:
                self.checked += 1
                self._cache[key] = cached
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        record = with_overhead(dict(cached), self.validator.overhead())
        record["checked"] = now_iso()
        if task.source_digest is not None:
            record["source"] = task.source_digest
        if record["verdict"] == OK and task.record.get("warnings"):
            record["verdict"] = WARNINGS
        return record
