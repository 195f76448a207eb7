"""The script server: queue, current job, history and the control API, under one lock.

`ScriptServer` is pure Python: it knows nothing of Channel Access or processes. The edges
call its typed API (`add(specs, request)`, `pause(immediate, request)`, ...: the handlers
marked `operation.control_call`; `ioc/writes.py` decodes Channel Access writes into these
calls) and read snapshots to publish; the runner calls `on_job_event`. Handlers decide
over the in-memory state and record store writes and runner calls (`core.decision`); the
writes are committed in one transaction, the runner calls are made afterwards outside the
lock. After every change the server runs the committed effects and then calls its
listeners with the set of topics that changed (outside its lock); the listeners read the
snapshots they need (`core.snapshots`).
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..contract import limits
from ..contract.enums import JobState, RunState
from ..contract.reply import Reply
from ..contract.topics import TOPICS
from . import job_output, slots
from .decision import Decisions, EffectQueue
from .deferred import Later, inline
from .execution import ExecutionControl
from .jobs import Job, now_iso
from .operation import Operation, Request, control_call
from .ports import JobFiles, StoreError, Timers
from .preflight import PreflightControl
from .progress import JobProgress, LearnedTimelines
from .queue import JobQueue
from .queue_ops import QueueControl
from .script_files import ScriptFiles
from .snapshots import LOG_TAIL_CHARS, Snapshots
from .specs import Rejected
from .unsaved import UnsavedEnds

log = logging.getLogger(__name__)

HISTORY_SIZE = 100
REPLIES_KEPT = 32
MAX_REDECIDE = 3
"""Times a write is decided again because what it was checked against changed meanwhile."""


class ScriptServer(Decisions, QueueControl, ExecutionControl, PreflightControl, Snapshots):
    """The state of the script server and every operation on it.

    Threading: `self.lock` guards every attribute (queue, current job, run state, history,
    event log, replies, settings, pending effects); every public method takes it and
    handlers run with it held. Store writes happen under it (lock order: core lock, then
    the store's, then the publisher's). Runner calls (`effects`) and listeners run after
    it is released, from whichever thread made the change; publishers read through the
    snapshot methods (`core.snapshots`), which take it.

    Args:
        store: the database (`store.sqlite.Store`).
        catalogue: the command catalogue (see docs/design.md).
        validator: checks jobs on add and update and runs dry runs (`validate.Validator`).
        files: the scripts folder, job logs and figures (`core.ports.JobFiles`;
            `host.JobFolders` in the IOC).
        timers: timers and background work (`core.ports.Timers`; `host.ThreadTimers`).
        logs_dir: where each job's output log is written.
        allow_scripts: False for `--no-scripts`.
        worker: runs the slow part of control writes (`deferred.SerialWorker` in the IOC;
            the default, `deferred.inline`, runs it at once in the writer's thread).
    """

    def __init__(
        self,
        store: Any,
        catalogue: Any,
        validator: Any,
        files: JobFiles,
        timers: Timers,
        logs_dir: Path | None = None,
        allow_scripts: bool = True,
        worker: Callable[[Callable[[], None]], None] = inline,
    ) -> None:
        self.lock = threading.RLock()
        self.worker = worker
        self.store = store
        self.catalogue = catalogue
        self.validator = validator
        self.files = files
        self.timers = timers
        self.logs_dir = logs_dir
        self.allow_scripts = allow_scripts
        self.runner: Any = None
        self.listeners: list[Callable[[set[str]], None]] = []
        self.started_at = timers.now()
        self.next_job_id = store.next_job_id()
        """The id of the next job queued; ids are never reused (stored as `next_id`)."""
        self.queue = JobQueue()
        self.queue.load(store.queued_jobs())
        self.history: collections.deque[Job] = collections.deque(
            store.history(HISTORY_SIZE), maxlen=HISTORY_SIZE
        )
        self.hold = bool(store.setting("hold", False))
        self.on_error_hold = bool(store.setting("on_error_hold", True))
        self.load_preflight_settings()
        self.current: Job | None = None
        self.run_state = RunState.IDLE
        self.current_source = ""
        self.job_progress: JobProgress | None = None
        self.learned_timelines = LearnedTimelines()
        self.output_tail = ""
        self.replies: collections.deque[Reply] = collections.deque(maxlen=REPLIES_KEPT)
        self.reply_seq = 0
        self.last_error = ""
        self.validate_result: dict[str, Any] | None = None
        self.event_log: collections.deque[str] = collections.deque(store.log_lines(400))
        self._log_chars = sum(len(line) + 1 for line in self.event_log)
        self._dirty: set[str] = set()
        self._end_as: tuple[JobState, bool, Any] | None = None
        self._dry_running = False
        self._recovering = store.active_jobs()
        self.unsaved = UnsavedEnds(self)
        self.scripts = ScriptFiles(self)
        self.effects = EffectQueue(self.lock)
        self._edits_due = []  # held completions of edits of the running job (core/editing.py)
        self.closed = False
        with self.lock, self.facts():
            for message in getattr(store, "quarantined", ()):  # rows the store could not serve
                self.log_event(message)
                self.last_error = message

    slot_action = control_call(slots.slot_action)
    select_output = control_call(job_output.select_output)

    # -- wiring --------------------------------------------------------------------------

    def attach_runner(self, runner: Any) -> None:
        """Connect the job runner, adopt a job left running by a previous server, go on."""
        for job, _ in self._recovering:  # its script as it is now, read before the lock
            if job.kind == "file":
                job.carry(self.scripts.read(job.file))
        with self.lock:
            self.runner = runner
            with self.facts():
                for job, handle in self._recovering:
                    self._adopt(job, handle)
            self._recovering = []
            self._maybe_start_next()
        self._notify()

    def close(self) -> None:
        """Refuse every further change (IOC shutdown; the store is closed after this)."""
        with self.lock:
            self.closed = True
        self.unsaved.cancel()

    def add_listener(self, listener: Callable[[set[str]], None]) -> None:
        """Call `listener(topics)` after every change."""
        self.listeners.append(listener)

    def touch(self, *topics: str) -> None:
        """Mark topics as changed (lock held); listeners hear of them at the next notify."""
        if not TOPICS.issuperset(topics):
            raise ValueError(f"unknown topics {sorted(set(topics) - TOPICS)}")
        self._dirty.update(topics)

    def changed(self, *topics: str) -> None:
        """Tell the listeners that something outside the core changed (e.g. the catalogue)."""
        with self.lock:
            self.touch(*topics)
        self._notify()

    def _notify(self) -> None:
        """Carry out committed effects, then tell the listeners (core lock NOT held)."""
        self.run_effects()
        with self.lock:
            topics, self._dirty = self._dirty, set()
        if topics:
            for listener in self.listeners:
                listener(topics)
        self.complete_edits()

    # -- control writes ------------------------------------------------------------------

    def decide_call(self, request: Request, step: Callable[[Operation], Any]) -> Reply | None:
        """Make one call of the typed API (`operation.control_call`): decide, answer.

        The handler step decides at once under the lock; slow work (companion checks, a
        catalogue reparse) runs on the worker without the lock, and the decision is
        committed after it (see `deferred.Later`). Never blocks on slow work.

        Args:
            request: who asks, the reply's label and `on_done(reply)`, called exactly once
                when the change is complete: decided (accepted or refused) and, for a dry
                run, the dry run ended. It may run before this returns.
            step: `step(op)` runs the handler with its typed arguments.

        Returns:
            The reply, or None while the decision waits for slow work.
        """
        op = Operation(request)
        self._decide(op, lambda: step(op), lambda: step(op), 0)
        return op.reply

    @control_call
    def refuse(self, op: Operation, problem: str) -> None:
        """Refuse a request that could not be decoded (its reply says why; nothing changes)."""
        raise Rejected(problem)

    def _decide(
        self,
        op: Operation,
        step: Callable[[], Later | None],
        restart: Callable[[], Later | None],
        attempt: int,
    ) -> None:
        """Run one step of a write under the lock; hand slow work to the worker."""
        with self.lock:
            later = self._apply(op, step)
            if later is None:
                reply = self._conclude(op)
                held = self.hold_edit_completion(op, reply)  # core/editing.py
            else:
                basis = later.basis() if later.basis is not None else None
        if later is None:
            self._notify()
            if held is not None:  # completed once the job has the edit
                self.edit_published(held)
            elif op.on_done is not None:
                op.on_done(reply)
            return

        def slow() -> None:
            try:
                result: Any = later.work()
            except Exception as exc:  # rejected by `then` below, under the lock
                result = _Failed(exc)
            with self.lock:
                changed = later.basis is not None and later.basis() != basis
            if changed and attempt < MAX_REDECIDE:
                log.info("%s: decided again, what it was checked against changed", op.label)
                self._decide(op, restart, restart, attempt + 1)
            elif changed:
                self._decide(op, _refuse_changed, restart, attempt)
            else:
                self._decide(op, lambda: later.then(_unwrap(result)), restart, attempt)

        (inline if later.quick else self.worker)(slow)

    def _apply(self, op: Operation, step: Callable[[], Later | None]) -> Later | None:
        """Run a handler step as one decision (lock held); a refusal or failure undoes it."""
        try:
            if self.closed:
                raise Rejected("the server is shutting down")
            with self.deciding() as scope:
                later = step()
            op.ok = True
            if scope.kept:  # a safety action the store could not record yet
                op.message = f"{op.message}; not recorded yet: {scope.kept}"
            return later
        except Rejected as exc:
            op.ok, op.message = False, f"{op.label}: {exc}"
        except Exception as exc:  # e.g. the disk is full: the transaction rolled back
            log.exception("%s failed", op.label)
            op.ok = False
            if isinstance(exc, StoreError):  # the store: e.g. a full disk
                op.message = f"{op.label}: " + self.unsaved.write_failed("nothing was changed", exc)
            else:
                op.message = f"{op.label}: internal error, nothing was changed ({exc})"
        return None

    def _conclude(self, op: Operation) -> Reply:
        """Record the decision of a write as a reply (lock held)."""
        if not op.ok:
            op.job_ids = []
            self.last_error = op.message
            self.touch("last_error")
        elif self.last_error != (self.unsaved.error or ""):
            # the refusal is answered: a screen shows no stale error, but a store that
            # still cannot be written stays reported (e.g. after an ABORT on a full disk)
            self.last_error = self.unsaved.error or ""
            self.touch("last_error")
        self.reply_seq += 1
        reply = Reply(self.reply_seq, op.label, op.ok, op.message, op.request_id, op.job_ids)
        op.reply = reply
        self.replies.appendleft(reply)
        self.touch("replies")
        if op.ok:
            self._maybe_start_next()
        return reply

    def record_rejection(
        self, pv: str, message: str, client: str = "", request_id: str | None = None
    ) -> Reply:
        """Reply to a write that could not even be decoded (nothing changes)."""
        with self.lock:
            self.reply_seq += 1
            reply = Reply(self.reply_seq, pv, False, f"{pv}: {message}", request_id)
            self.replies.appendleft(reply)
            self.last_error = reply.message
            self.touch("replies", "last_error")
        self._notify()
        return reply

    # -- the event log -------------------------------------------------------------------

    def log_event(self, text: str) -> None:
        """Add a line to the server's event log (`LOG`), stored with the current change."""
        line = f"{now_iso()} {text}"
        log.info(text)
        self.event_log.append(line)
        self._log_chars += len(line) + 1
        while self._log_chars > LOG_TAIL_CHARS and len(self.event_log) > 1:
            self._log_chars -= len(self.event_log.popleft()) + 1
        self.writes.append_log(line)
        self.touch("log")

    def check_queue_room(self, extra_jobs: int, extra_bytes: int) -> None:
        """Reject growth past the queue bounds, naming the bound."""
        if len(self.queue) + extra_jobs > limits.MAX_QUEUE_LENGTH:
            raise Rejected(
                f"the queue holds {len(self.queue)} jobs; at most {limits.MAX_QUEUE_LENGTH} "
                "(MAX_QUEUE_LENGTH) may be queued"
            )
        if self.queue.json_bytes + extra_bytes > limits.MAX_QUEUE_JSON_BYTES:
            raise Rejected(
                f"the queue's records would exceed {limits.MAX_QUEUE_JSON_BYTES} bytes "
                "(MAX_QUEUE_JSON_BYTES); remove jobs or queue smaller scripts"
            )


class _Failed:
    """The exception of a `Later.work`, carried to `then` under the lock."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc


def _unwrap(result: Any) -> Any:
    if isinstance(result, _Failed):
        raise result.exc
    return result


def _refuse_changed() -> None:
    raise Rejected(
        "the commands or the queue kept changing while the write was checked; write again"
    )
