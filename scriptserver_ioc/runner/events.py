"""Delivery of runner events to core, from one thread, in order, with no runner lock held."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Protocol

log = logging.getLogger(__name__)

_STOP = object()


class RunnerEvents(Protocol):
    """What the runner reports to (implemented by ``core.ScriptServer``)."""

    def on_job_event(self, job_id: int, event: dict[str, Any]) -> None:
        """Apply one event of the table in docs/design.md."""


class EventDispatcher:
    """Queues events from any runner thread and delivers them from its own thread.

    The receiver may call back into the runner (e.g. ``start`` the next job from inside a
    ``finished`` event): no runner lock is held while it runs. Events of one job arrive in
    the order they were queued; an exception in the receiver is logged and delivery goes on.
    """

    def __init__(self, events: RunnerEvents) -> None:
        self._events = events
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="runner-events", daemon=True)
        self._thread.start()

    def emit(self, job_id: int, event: dict[str, Any]) -> None:
        """Queue an event (never blocks; dropped after ``close``)."""
        if not self._closed:
            self._queue.put((job_id, event))

    def close(self, timeout: float = 2.0) -> None:
        """Deliver what is queued (up to ``timeout``), then stop."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            job_id, event = item
            try:
                self._events.on_job_event(job_id, event)
            except Exception:  # the receiver's bug must not stop event delivery
                log.exception("on_job_event(%s, %s) failed", job_id, event.get("type"))
