"""The jobs' output and the server's log records, put into the messages in console order.

A job's output reaches the messages from its log file, which its process writes; the
server's log records (e.g. "job 7 DONE") arrive at once, from whichever thread logs them.
To keep a console's order (a job's last lines before its end, every line of a job however
short), the job changes and the records go through one queue:

* whoever submits a record first notes the job that is current now (`_note_job`, one
  attribute read, no lock of the core); if it changed, a job-change mark goes in before
  the record. The core makes a job current before it logs its start, and clears it (its
  process gone, its output complete) before it logs its end, so the mark of a job's end
  always precedes its end record.
* the tailer's thread takes the queue, reads the followed job's file to its end (so lines
  written before a record was logged come before it), then goes through the queue in
  order: at a job-change mark it reads the ended job's file to its end, then follows the
  new one; a record is added when reached.

So a job that starts and ends between two looks of the thread is read whole, and its
lines come before its end record, whatever the timing.
"""

from __future__ import annotations

import codecs
import collections
import logging
import threading
import time
from pathlib import Path
from typing import Any

from .adapter import CoreAdapter, reqid_of
from .messages import MESSAGES_KEPT, MessageLog

log = logging.getLogger(__name__)

OUTPUT_LOGGER = "job"
"""Logger name of entries that are a job's output (NICOS uses the script's logger)."""

READ_CHUNK = 262_144
SKIP_BEYOND = 4 * READ_CHUNK
"""Output not yet read beyond which only the newest chunk is shown."""
TAIL_LINES = 200
"""Lines shown after output was left out."""
PARTIAL_LINE_SECONDS = 1.0
"""A line without its newline is sent after this long (a prompt, a progress bar)."""
LINES_ONE_BY_ONE = 100
"""Up to this many lines read at once are one message each; more are packed together."""
PACKED_CHARS = 8_000
"""Most characters of a message of packed lines (NICOS cuts a message at 8,192)."""
MAX_PENDING_RECORDS = MESSAGES_KEPT
"""Records waiting for the tailer's thread beyond which new ones are counted, not kept."""


class OutputTailer:
    """Follows the jobs' output files and orders their lines with the server's records.

    `submit` may be called from any thread; `run` (or `poll`, in tests) is the tailer's
    thread, the only one reading files. Neither waits for the core's lock while holding
    the tailer's, so a record logged under the core's lock never deadlocks.

    Args:
        adapter: the core adapter.
        messages: where lines and records go.
        interval: seconds between two looks at the followed file.
    """

    def __init__(self, adapter: CoreAdapter, messages: MessageLog, interval: float = 0.2) -> None:
        self.adapter = adapter
        self.messages = messages
        self.interval = interval
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pending: collections.deque[tuple[str, Any]] = collections.deque()
        self._records = 0
        self._dropped = 0
        self._seen: int | None = None  # the job noted last (marks are relative to it)
        self._job: int | None = None  # the followed job (tailer's thread only)
        self._path: Path | None = None
        self._offset = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._partial = ""
        self._partial_since = 0.0

    # -- any thread ----------------------------------------------------------------------

    def submit(self, record: dict[str, Any]) -> None:
        """Queue a log record (`MessageLog.add` keywords) after the job change it follows."""
        with self._lock:
            self._note_job()
            if self._records >= MAX_PENDING_RECORDS:
                self._dropped += 1
            else:
                self._pending.append(("record", record))
                self._records += 1
        self._wake.set()

    def _note_job(self) -> None:
        """Queue a job-change mark if the current job is not the one noted last (lock held)."""
        job = self.adapter.current_job_id()
        if job != self._seen:
            self._seen = job
            self._pending.append(("job", job))

    # -- the tailer's thread -------------------------------------------------------------

    def run(self) -> None:
        """Look every `interval`, or at once when a record comes, until `stopping` is set."""
        while not self.stopping.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self.stopping.is_set():
                return
            try:
                self.poll()
            except Exception:  # keep following; the log record wakes us: wait a look first
                log.exception("reading job output failed")
                self.stopping.wait(self.interval)

    def stop(self) -> None:
        """End `run`."""
        self.stopping.set()
        self._wake.set()

    def poll(self) -> None:
        """One look: take the queue, read the followed job, then the queue in order.

        Reading after taking the queue puts every line written before a record was
        logged ahead of it (e.g. the runner's "job N ended" as the process exits).
        """
        with self._lock:
            self._note_job()
            items, self._pending = self._pending, collections.deque()
            dropped, self._records, self._dropped = self._dropped, 0, 0
        while self._read():
            pass
        switched = False
        for kind, value in items:
            if kind == "job":
                self._drain()  # it ended: its process is gone, its file complete
                self._follow(value)
                switched = True
            else:
                self.messages.add(**value)
        if dropped:
            self.messages.add(
                f"... {dropped} log messages left out here (the server logged faster than "
                "they could be passed on); see the server's log",
                level=logging.WARNING,
            )
        if switched:
            self._read()
        if self._partial and time.monotonic() - self._partial_since > PARTIAL_LINE_SECONDS:
            self._flush_partial()

    def _follow(self, job_id: int | None) -> None:
        self._job, self._offset, self._partial = job_id, 0, ""
        self._path = None if job_id is None else self.adapter.log_path(job_id)
        self._decoder.reset()

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
        self._add_lines([line.rstrip("\r") for line in lines])
        return more

    def _add_lines(self, lines: list[str]) -> None:
        """One message per line; a burst of many lines packed into messages of 8 KB.

        Each message takes a millisecond of the stamps (see `MessageLog.add`), and the GUI
        fetches at most 1,000 a second: packed, a flood stays in step with the clock.
        """
        if len(lines) <= LINES_ONE_BY_ONE:
            for line in lines:
                self._add(line)
            return
        block: list[str] = []
        size = 0
        for line in lines:
            if block and size + len(line) + 1 > PACKED_CHARS:
                self._add("\n".join(block))
                block, size = [], 0
            block.append(line)
            size += len(line) + 1
        if block:
            self._add("\n".join(block))

    def _flush_partial(self) -> None:
        if self._partial:
            self._add(self._partial)
            self._partial = ""

    def _add(self, text: str) -> None:
        self.messages.add(text, OUTPUT_LOGGER, logging.INFO, None, reqid_of(self._job or 0))
