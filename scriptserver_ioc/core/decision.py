"""One decision of the core: in-memory changes that can be undone, store writes, effects.

Every change of the core happens inside a scope opened under the core's lock:

- a *decision* (`ScriptServer.deciding`): a control write, or the start of the next job.
  Handlers change the core's in-memory state, record store writes (`ScriptServer.writes`)
  and effects (`RunnerCall`: start, pause, resume, abort, edit, adopt). When the handler
  returns, the recorded writes run in one store transaction: that is the commit (a
  decision that writes nothing opens none). If the handler refuses (`Rejected`) or the
  store fails, the transaction rolls back and the in-memory state is put back exactly as
  it was, so a refused write leaves no trace.
- a *safety action* (`ScriptServer.safety_action`, called by its handler: PAUSE, ABORT,
  STOP, the skip of the running job) is a decision the store cannot refuse: the operator
  must be able to stop a job on a full disk. If its commit fails, it is carried out all
  the same; its writes are kept in memory, reported (`LAST_ERROR`, `STATUS.store_error`)
  and written when the store works again (`core.unsaved`), like facts.
- *facts* (`ScriptServer.facts`): what the runner reports (a job started, paused,
  finished). They happened whatever the store says, so the in-memory change stays and a
  failed store write is reported (`LAST_ERROR`, `STATUS.store_error`), and the writes
  are kept in memory and retried (`core.unsaved`).

Effects run after the commit, outside the core lock, in the order they were decided
(`EffectQueue`). A runner call that fails then (the process is already gone) is reported
back under the lock to the `failed` callback of the call, which restores a consistent state
and says what happened in `LOG` and `LAST_ERROR`.

Undo covers the core object's attributes (a shallow copy), the containers it changes in
place (history, event log, the store-failure record), every `Job.update` made during the
decision (`jobs.recording`) and the queue (`JobQueue` saves itself on first change).
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from . import jobs
from .ports import StoreError

log = logging.getLogger(__name__)

STORE_WRITES = frozenset(
    {
        "save_jobs",
        "save_job",
        "finish_job",
        "set_keys",
        "delete_jobs",
        "set_setting",
        "add_duration",
        "append_log",
    }
)
"""Store methods that write: the core calls them only through `Writes`."""


@dataclass
class RunnerCall:
    """A call on the job runner, made after the decision that asked for it is committed.

    Attributes:
        method: `JobRunner` method (`start`, `pause`, `resume`, `abort`, `edit`, `adopt`).
        kwargs: its arguments.
        job_id: the job it is for.
        failed: `failed(message)` runs under the core lock (in a scope of facts) when the
            call raises or returns an error: it restores a consistent state and reports.
    """

    method: str
    kwargs: dict[str, Any]
    job_id: int | None = None
    failed: Callable[[str], None] | None = None


class Writes:
    """Store writes recorded during a scope; `flush` runs them in order in one transaction.

    Attribute access mirrors the store's write methods (`writes.save_jobs(...)`), so a
    handler reads like a store call but nothing is written until the commit.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name not in STORE_WRITES:
            raise AttributeError(f"the store has no write {name!r}")

        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args, kwargs))

        return record

    def flush(self, store: Any) -> None:
        """Run the recorded writes (inside the caller's transaction)."""
        for name, args, kwargs in self.calls:
            getattr(store, name)(*args, **kwargs)


@dataclass
class Scope:
    """What one decision (or scope of facts) recorded."""

    undoable: bool
    writes: Writes = field(default_factory=Writes)
    effects: list[RunnerCall] = field(default_factory=list)
    undo: list[Callable[[], None]] = field(default_factory=list)
    failed: Callable[[BaseException], None] | None = None
    """For facts: what else to do when the store refuses their writes (they are kept)."""
    safety: bool = False
    """A safety action: carried out even if the store refuses its writes (kept instead)."""
    kept: str = ""
    """Why the writes of a safety action were kept in memory instead of committed."""


class Checkpoint:
    """The core's in-memory state at the start of a decision, to put back on failure.

    Args:
        core: the `ScriptServer` (lock held).
        in_place: names of attributes holding deques or objects changed in place.
    """

    def __init__(self, core: Any, in_place: tuple[str, ...]) -> None:
        self.core = core
        self.attributes = dict(core.__dict__)
        self.contents = {}
        for name in in_place:
            value = self.attributes.get(name)
            if isinstance(value, (collections.deque, set)):
                self.contents[name] = (value, list(value))
            elif value is not None and hasattr(value, "__dict__"):
                self.contents[name] = (value, _copy_state(value))

    def restore(self, scope: Scope) -> None:
        """Undo every change made since the checkpoint."""
        for undo in reversed(scope.undo):
            undo()
        self.core.__dict__.clear()
        self.core.__dict__.update(self.attributes)
        for value, saved in self.contents.values():
            if isinstance(value, collections.deque):
                value.clear()
                value.extend(saved)
            elif isinstance(value, set):
                value.clear()
                value.update(saved)
            else:
                value.__dict__.clear()
                value.__dict__.update(saved)


def _copy_state(obj: Any) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, list) else v) for k, v in obj.__dict__.items()}


@contextmanager
def recording(scope: Scope) -> Iterator[None]:
    """Record every `Job.update` and queue change of this thread into `scope.undo`."""
    previous = jobs.set_undo_log(scope.undo)
    try:
        yield
    finally:
        jobs.set_undo_log(previous)


class EffectQueue:
    """Committed effects waiting to run, carried out in decision order outside the core lock.

    The thread that made a change carries out the pending effects before it completes the
    write (so when a put completes, the runner has been asked); if another thread is
    carrying effects out, it waits for that one first, so effects keep the order of the
    decisions and a REPLY never runs ahead of its runner call.

    Threading: `pending` is guarded by the core lock; `_running` admits one thread at a
    time and is only ever taken WITHOUT the core lock held (a failed call's follow-up then
    takes the core lock inside it: order `_running`, then core lock).
    """

    def __init__(self, core_lock: Any) -> None:
        self.core_lock = core_lock
        self.pending: list[RunnerCall] = []
        self._running = threading.Lock()

    def drain(self, carry_out: Callable[[RunnerCall], None]) -> None:
        """Carry out every pending effect (call with the core lock NOT held)."""
        with self._running:
            while True:
                with self.core_lock:
                    batch, self.pending = self.pending, []
                if not batch:
                    return
                for call in batch:
                    carry_out(call)


IN_PLACE = ("history", "event_log", "_dirty", "unsaved")
"""Attributes of the core whose objects are changed in place (saved by content)."""


class Decisions:
    """Scopes of change of `ScriptServer` (mixin; see the module docstring).

    Threading: every method here runs with the core lock held, except `run_effects`, which
    must be called without it (it takes it briefly to take the pending effects).
    """

    _scope: Scope | None = None

    @property
    def writes(self) -> Writes:
        """Where a handler records store writes (only inside a decision or scope of facts)."""
        if self._scope is None:
            raise RuntimeError("a store write outside a decision or a scope of facts")
        return self._scope.writes

    def effect(self, call: RunnerCall) -> None:
        """Ask for a runner call once the change in progress is committed."""
        if self._scope is None:
            raise RuntimeError("an effect outside a decision or a scope of facts")
        self._scope.effects.append(call)

    def on_store_failure(self, failed: Callable[[BaseException], None]) -> None:
        """In a scope of facts: what else to do if the store refuses their writes."""
        if self._scope is not None and not self._scope.undoable:
            self._scope.failed = failed

    def safety_action(self) -> None:
        """Mark the decision in progress as one the store cannot refuse (see above)."""
        if self._scope is None or not self._scope.undoable:
            raise RuntimeError("a safety action outside a decision")
        self._scope.safety = True

    @contextmanager
    def deciding(self) -> Iterator[Scope]:
        """A decision: its writes are committed at the end, or everything is undone.

        Joins the decision in progress if there is one (its caller commits or undoes).
        Yields the scope: `scope.kept` says why a safety action's writes were kept.

        Raises:
            Whatever the handler or the store raised, after undoing every change.
        """
        if self._scope is not None:
            if not self._scope.undoable:
                raise RuntimeError("a decision cannot be made inside a scope of facts")
            yield self._scope
            return
        checkpoint = Checkpoint(self, IN_PLACE)
        scope = self._scope = Scope(undoable=True)
        try:
            with recording(scope):
                yield scope
            self._commit(scope)
        except BaseException:
            checkpoint.restore(scope)
            self.queue.settle()
            raise
        self._scope = None
        self.queue.settle()
        self.effects.pending.extend(scope.effects)

    def _commit(self, scope: Scope) -> None:
        """The decision's writes in one transaction; a safety action's kept if refused."""
        if not scope.writes.calls:
            return
        try:
            with self.store.transaction():
                scope.writes.flush(self.store)
        except StoreError as exc:
            if not scope.safety:
                raise
            log.error("cannot store a safety action, carried out all the same: %s", exc)
            scope.kept = self.unsaved.keep_writes(
                scope.writes.calls, "it was carried out and is kept in memory until then", exc
            )

    @contextmanager
    def facts(self) -> Iterator[None]:
        """What the runner reported: kept in memory; its writes committed at the end.

        A store failure does not undo facts: it goes to the scope's `failed` (see
        `on_store_failure`), by default reported in `LAST_ERROR` and `STATUS`.
        """
        if self._scope is not None:
            yield
            return
        scope = self._scope = Scope(undoable=False)
        try:
            yield
        finally:
            self._scope = None
        self.effects.pending.extend(scope.effects)
        if not scope.writes.calls:  # most events (lines, progress) write nothing
            return
        try:
            with self.store.transaction():
                scope.writes.flush(self.store)
        except StoreError as exc:
            log.error("cannot store what the runner reported: %s", exc)
            self.unsaved.keep_writes(
                scope.writes.calls, "the change is kept in memory until then", exc
            )
            if scope.failed is not None:
                scope.failed(exc)

    def run_effects(self) -> None:
        """Carry out committed effects, in order (core lock NOT held)."""
        self.effects.drain(self._carry_out)

    def _carry_out(self, call: RunnerCall) -> None:
        runner = self.runner
        if runner is None:
            return
        try:
            error = getattr(runner, call.method)(**call.kwargs)
        except (RuntimeError, ValueError, OSError) as exc:
            error = str(exc) or type(exc).__name__
        except Exception as exc:  # a bug in the runner: report it, keep the core consistent
            log.exception("runner.%s failed", call.method)
            error = f"internal error in the job runner: {exc}"
        if not error:
            return
        log.warning("runner.%s for job %s failed: %s", call.method, call.job_id, error)
        with self.lock:
            if call.failed is not None and not self.closed:
                with self.facts():
                    call.failed(str(error))
                self._maybe_start_next()
