"""The `getstatus` reply, kept ready: rebuilt after every change, read without waiting.

The core tells its listeners which topics changed; `StatusSnapshot` wakes its own thread,
which reads the core (waiting for the core's lock there, never in a reply) and serialises
the reply. A reply sends the last serialised bytes. Each queued request's JSON is cached
by the job record's identity, so a line change with 10,000 queued costs one join.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .adapter import CoreAdapter
from .protocol import encode

log = logging.getLogger(__name__)

QUEUE_TOPICS = {"queue"}
MIN_INTERVAL = 0.1
"""Seconds between two rebuilds after changes of the core (commands rebuild at once)."""
EXTRA_FIELDS = (
    b'"eta":[1,0],"watch":{},"mode":"master","setups":[[],[]],"devices":[],"devicefailures":{}'
)
"""Fields NICOS also sends and the GUI ignores (eta `pending`; no devices or setups)."""


HELD_NOTICE = (
    "{reason}: no script starts until the queue is released. The IBEX GUI shows this as "
    "Paused: 'Resume Script Execution' releases it; 'Stop All Scripts and Empty Queue' "
    "empties the queue and leaves it held."
)
"""Added to the messages when a held queue with no running script begins to show as paused."""
HELD_BEFORE_FAILING_NOTICE = (
    "{reason}: no script starts until the queue is released. The IBEX GUI shows this as "
    "Paused; its Resume is refused while the next {failing}."
)
"""The notice when the hold is before a job predicted to fail (QUEUE:ON_INVALID HOLD)."""


class StatusSnapshot:
    """The serialised `getstatus` reply and the thread that keeps it current.

    Args:
        adapter: the core adapter.
        notice: called with a text for the GUI's output pane (e.g. why it shows paused).
    """

    def __init__(self, adapter: CoreAdapter, notice: Callable[[str], None] | None = None) -> None:
        self.adapter = adapter
        self.notice = notice
        self._held: tuple[str, str | None] | None = None  # (why held, failing job)
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._build_lock = threading.Lock()
        self._topics_lock = threading.Lock()
        self._topics: set[str] = set(QUEUE_TOPICS)
        self._entries: dict[int, tuple[str, bytes]] = {}
        self._requests = b"[]"
        self._payload = b""
        self.generation = 0
        self.refresh()
        adapter.add_listener(self.on_change)

    def payload(self) -> bytes:
        """The last built reply (a reference read: never blocks)."""
        return self._payload

    def on_change(self, topics: set[str]) -> None:
        """Core listener: note the topics and wake the thread (cheap, any thread)."""
        with self._topics_lock:
            self._topics |= topics
        self._wake.set()

    def run(self) -> None:
        """Rebuild after changes until `stopping` is set, at most every `MIN_INTERVAL`.

        Changes in a burst (a batch add, pre-flight verdicts of many jobs) cost one
        rebuild, which keeps this thread from competing with the others for the GIL.
        """
        while not self.stopping.is_set():
            self._wake.wait(0.5)
            if self.stopping.is_set():
                return
            if self._wake.is_set():
                self._wake.clear()
                try:
                    self.refresh()
                except Exception:  # keep serving the previous snapshot
                    log.exception("building the NICOS status failed")
                self.stopping.wait(MIN_INTERVAL)

    def stop(self) -> None:
        """End `run`."""
        self.stopping.set()
        self._wake.set()

    def refresh(self) -> None:
        """Read the core and rebuild the reply now (any thread; one build at a time)."""
        with self._build_lock:
            with self._topics_lock:
                topics, self._topics = self._topics, set()
            with self.adapter.locked():
                code = self.adapter.gui_status_code()
                held = self.adapter.held_idle()
                failing = self.adapter.held_before_failing_job() if held else None
                current = self.adapter.current()
                jobs = self.adapter.queued_jobs() if topics & QUEUE_TOPICS else None
                if jobs is not None:
                    self._requests = self._requests_json(jobs)
                shown = current or self.adapter.last_finished()
            line = -1 if current is None else current.line or 0
            self._payload = b"".join(
                (
                    b'{"status":',
                    encode([code, line]),
                    b',"script":',
                    encode(shown.source if shown else ""),
                    b',"scriptname":',
                    encode(shown.name if shown else ""),
                    b',"requests":',
                    self._requests,
                    b",",
                    EXTRA_FIELDS,
                    b"}",
                )
            )
            self.generation += 1
            if held is not None and (held, failing) != self._held and self.notice is not None:
                reason = held[:1].upper() + held[1:]
                if failing is None:
                    self.notice(HELD_NOTICE.format(reason=reason))
                else:
                    self.notice(HELD_BEFORE_FAILING_NOTICE.format(reason=reason, failing=failing))
            self._held = (held, failing) if held is not None else None

    def _requests_json(self, jobs: list[Any]) -> bytes:
        """The `requests` list, re-serialising only jobs whose record changed."""
        cache, fresh = self._entries, {}
        parts = []
        for job in jobs:
            key = self.adapter.job_key(job)
            hit = cache.get(job.id)
            if hit is None or hit[0] is not key:
                hit = (key, encode(self.adapter.request_entry(job)))
            fresh[job.id] = hit
            parts.append(hit[1])
        self._entries = fresh
        return b"[" + b",".join(parts) + b"]"
