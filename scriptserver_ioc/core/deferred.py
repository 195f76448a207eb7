"""Slow work of a control write, done off the Channel Access thread and outside the core lock.

A handler that needs slow work (companion checks in the checker process, a catalogue
reparse) decides what it can under the lock, then returns a `Later`: the slow `work`, what
to do with its result (`then`, run under the lock again, in the store transaction) and the
`basis` its decision rests on (e.g. the catalogue revision). The core runs `work` on its
worker and, before `then`, compares the basis: if it changed meanwhile the whole write is
decided again from the start (see `ScriptServer.control`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Later:
    """The rest of a control write after slow work.

    Attributes:
        work: the slow part; runs without any lock of the core. Its exception rejects the
            write (`Rejected` with its message, anything else as an internal error).
        then: `then(result)` finishes the write under the core lock inside the store
            transaction, like a handler (it may raise `Rejected`, or return another `Later`).
        basis: what the decision rests on, read under the lock before and after `work`;
            None if nothing can change under it.
        quick: the work turned out not to be slow (e.g. a command without companions): it
            runs at once in the writer's thread, saving two thread hand-overs.
    """

    work: Callable[[], Any]
    then: Callable[[Any], Later | None]
    basis: Callable[[], Any] | None = None
    quick: bool = False


@dataclass
class Quick(Later):
    """A `Later` whose work is never slow: it always runs at once in the writer's thread.

    A handler that returns only these does not defer (its PV is not `asyn`): the PV table
    checks handlers by their return annotation (`contract.pvmodel.may_defer`).
    """

    quick: bool = True


def inline(task: Callable[[], None]) -> None:
    """A worker that runs the task at once in the caller's thread (tests, scripts)."""
    task()


class SerialWorker:
    """Runs submitted tasks one after another on one daemon thread, in submission order.

    One thread keeps the writes of one client in the order they were written and matches
    the companion checker, which answers one request at a time.

    Threading: `__call__` may be called from any thread; tasks run on the worker thread.
    """

    def __init__(self, name: str = "core-worker") -> None:
        self._tasks: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def __call__(self, task: Callable[[], None]) -> None:
        """Queue `task`."""
        self._tasks.put(task)

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the running task (waiting up to `timeout` s); queued ones are dropped.

        Only at shutdown: the writes they belong to are never decided, nothing changes.
        """
        self._closing = True
        self._tasks.put(None)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            if self._closing:
                continue
            try:
                task()
            except Exception:  # a task reports its own failures; never end the worker
                log.exception("core worker task failed")
