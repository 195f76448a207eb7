"""The `getmessages` log: the server's log records and the jobs' output, in NICOS's shape.

Every entry is `[logger, created, level, text + newline, exc_text, reqid]`; `created` is
strictly increasing, because the GUI keeps only entries newer than the last one it showed.
Entries are serialised once, when they arrive, so a reply of the last n is a join.
"""

from __future__ import annotations

import codecs
import collections
import logging
import threading
import time
from pathlib import Path

from .adapter import CoreAdapter, reqid_of
from .protocol import encode, message_record

MESSAGES_KEPT = 10_000
OUTPUT_LOGGER = "job"
"""Logger name of entries that are a job's output (NICOS uses the script's logger)."""

READ_CHUNK = 262_144
SKIP_BEYOND = 4 * READ_CHUNK
"""Output not yet read beyond which only the newest chunk is shown."""
TAIL_LINES = 200
"""Lines shown after output was left out."""
MAX_BYTES = 4_000_000
"""Most bytes of serialised messages kept (so `getmessages *` stays a few MB)."""
PARTIAL_LINE_SECONDS = 1.0
"""A line without its newline is sent after this long (a prompt, a progress bar)."""


class MessageLog:
    """The last `MESSAGES_KEPT` messages; every method is thread-safe and never blocks long."""

    def __init__(self, kept: int = MESSAGES_KEPT) -> None:
        self._lock = threading.Lock()
        self._entries: collections.deque[bytes] = collections.deque(maxlen=kept)
        self._last = 0.0
        self._bytes = 0

    def add(
        self,
        text: str,
        logger: str = "scriptserver",
        level: int = logging.INFO,
        exc_text: str | None = None,
        reqid: str = "",
        created: float | None = None,
    ) -> None:
        """Append one message; its time is made later than every earlier one's."""
        with self._lock:
            stamp = max(created or time.time(), self._last + 1e-6)
            self._last = stamp
            entry = encode(message_record(logger, stamp, level, text, exc_text, reqid))
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
    """A logging handler that copies the server's log records into a `MessageLog`."""

    def __init__(self, messages: MessageLog, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        """Add the record (called in whichever thread logged it; takes one short lock)."""
        try:
            exc_text = self.formatter.formatException(record.exc_info) if record.exc_info else None
            self.messages.add(
                record.getMessage(), record.name, record.levelno, exc_text, "", record.created
            )
        except Exception:  # a log call must never fail because of the bridge
            self.handleError(record)

    formatter = logging.Formatter()


class OutputTailer:
    """Follows the current job's output file and adds each line as a message.

    Runs in its own thread (`run`), reading what the job process appends to its log file;
    the runner and the core are never waited on except for a short read of who is current.

    Args:
        adapter: the core adapter.
        messages: where lines go.
        interval: seconds between two looks at the file.
    """

    def __init__(self, adapter: CoreAdapter, messages: MessageLog, interval: float = 0.2) -> None:
        self.adapter = adapter
        self.messages = messages
        self.interval = interval
        self.stopping = threading.Event()
        self._job: int | None = None
        self._path: Path | None = None
        self._offset = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._partial = ""
        self._partial_since = 0.0
        self._newest = adapter.newest_job_id()

    def run(self) -> None:
        """Poll until `stopping` is set."""
        while not self.stopping.wait(self.interval):
            try:
                self.poll()
            except Exception:  # keep following whatever one read did
                logging.getLogger(__name__).exception("reading job output failed")

    def poll(self) -> None:
        """One look: finish jobs that ended, follow the current one, send complete lines."""
        current = self.adapter.current()
        job = current.job_id if current else None
        if job != self._job:
            self._drain()
            for job_id, path in self.adapter.finished_after(self._newest):
                if job_id != job:  # ran and ended between two looks
                    self._follow(job_id, path)
                    self._drain()
            self._follow(job, current.log_path if current else None)
        self._read()
        if self._partial and time.monotonic() - self._partial_since > PARTIAL_LINE_SECONDS:
            self._flush_partial()

    def _follow(self, job_id: int | None, path: Path | None) -> None:
        self._job, self._path, self._offset = job_id, path, 0
        self._decoder.reset()
        if job_id is not None:
            self._newest = max(self._newest, job_id)

    def _drain(self) -> None:
        while self._read():
            pass
        self._flush_partial()

    def _read(self) -> bool:
        """Read one chunk of the followed file; True if there may be more.

        Far behind a job that floods its output, jump to the last chunk and say how much
        was left out (the whole output stays in the job's log file).
        """
        if self._path is None or self._job is None:
            return False
        skipped = 0
        try:
            with open(self._path, "rb") as stream:
                size = stream.seek(0, 2)
                if size - self._offset > SKIP_BEYOND:
                    skipped = size - READ_CHUNK - self._offset
                    self._offset = size - READ_CHUNK
                stream.seek(self._offset)
                data = stream.read(READ_CHUNK)
        except OSError:
            return False
        self._offset += len(data)
        more = len(data) == READ_CHUNK
        if skipped:
            self._flush_partial()
            self._decoder.reset()
            cut, newline, data = data.partition(b"\n")  # resume at a line start
            skipped += len(cut) + len(newline)
        if not data:
            return more
        lines = (self._partial + self._decoder.decode(data)).split("\n")
        if len(lines) > 1 or not self._partial:
            self._partial_since = time.monotonic()
        self._partial = lines.pop()
        if skipped:  # the GUI fetches at most 1,000 new messages: keep the notice in view
            dropped, lines = lines[:-TAIL_LINES], lines[-TAIL_LINES:]
            skipped += sum(len(line.encode("utf-8", "replace")) + 1 for line in dropped)
            self._add(f"... {skipped} bytes of output left out here; see {self._path}")
        for line in lines:
            self._add(line.rstrip("\r"))
        return more

    def _flush_partial(self) -> None:
        if self._partial:
            self._add(self._partial)
            self._partial = ""

    def _add(self, line: str) -> None:
        self.messages.add(line, OUTPUT_LOGGER, logging.INFO, None, reqid_of(self._job or 0))
