"""The `getmessages` log: the server's log records and the jobs' output, in NICOS's shape.

Every entry is `[logger, created, level, text + newline, exc_text, reqid]`. The GUI rounds
`created` to milliseconds and keeps only entries newer than the last one it showed
(ibex_gui `ReceiveLogMessage`, `NicosModel.filterOld`), so `created` is a whole number of
milliseconds, at least one more than the entry before: no entry can share a millisecond
with the one before it and be dropped. Entries are stamped when they are added, never
earlier than the clock, so an entry the GUI stamps itself (an error it shows, with its own
clock) cannot hide one of ours added after it. Entries are serialised once, when they
arrive, so a reply of the last n is a join.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from typing import Any

from .protocol import encode, message_record

MESSAGES_KEPT = 10_000
MAX_BYTES = 4_000_000
"""Most bytes of serialised messages kept (so `getmessages *` stays a few MB)."""


class MessageLog:
    """The last `MESSAGES_KEPT` messages; every method is thread-safe and never blocks long."""

    def __init__(self, kept: int = MESSAGES_KEPT) -> None:
        self._lock = threading.Lock()
        self._entries: collections.deque[bytes] = collections.deque(maxlen=kept)
        self._last_ms = 0
        self._bytes = 0

    def add(
        self,
        text: str,
        logger: str = "scriptserver",
        level: int = logging.INFO,
        exc_text: str | None = None,
        reqid: str = "",
    ) -> None:
        """Append one message, stamped now or 1 ms after the one before, whichever is later.

        A burst of n messages is stamped n ms apart, so the stamps can run ahead of the
        clock for as long as messages come faster than 1,000 a second; the output tailer
        packs large bursts of output lines into few messages to keep them close.
        """
        with self._lock:
            millis = max(math.floor(time.time() * 1000), self._last_ms + 1)
            self._last_ms = millis
            record = message_record(logger, millis / 1000, level, text, exc_text, reqid)
            entry = encode(record)
            if len(self._entries) == self._entries.maxlen:
                self._bytes -= len(self._entries[0])
            self._entries.append(entry)
            self._bytes += len(entry)
            while self._bytes > MAX_BYTES and len(self._entries) > 1:
                self._bytes -= len(self._entries.popleft())

    def last(self, count: int | None) -> bytes:
        """The JSON array of the last `count` messages in order (None: all kept)."""
        with self._lock:
            entries = list(self._entries) if count is None else self._tail(count)
        return b"[" + b",".join(entries) + b"]"

    def _tail(self, count: int) -> list[bytes]:
        if count <= 0:
            return []
        size = len(self._entries)
        return [self._entries[i] for i in range(max(0, size - count), size)]


class LogForwarder(logging.Handler):
    """A logging handler that passes the server's log records on to be added in order.

    Args:
        submit: takes the record as `MessageLog.add` keywords; `OutputTailer.submit`,
            which adds it after the output of any job that ended before it was logged.
    """

    def __init__(self, submit: Any, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.submit = submit

    def emit(self, record: logging.LogRecord) -> None:
        """Pass the record on (called in whichever thread logged it; takes one short lock)."""
        try:
            exc_text = self.formatter.formatException(record.exc_info) if record.exc_info else None
            self.submit(
                {
                    "text": record.getMessage(),
                    "logger": record.name,
                    "level": record.levelno,
                    "exc_text": exc_text,
                }
            )
        except Exception:  # a log call must never fail because of the bridge
            self.handleError(record)

    formatter = logging.Formatter()
