"""The command checker process (``job/checker.py``) as the IOC sees it.

A ``Worker`` starts the checker under the job interpreter, sends it JSON-lines requests on
stdin, collects its answers from stdout and the tail of its stderr (for crash reports), and
reads the batch progress record it keeps in a small shared file (which item of a batch it is
running, so a hang or a crash is blamed on that item). Two parts drive it: the catalogue's
``live.LiveChecker`` (what a module defines, in the job's environment) and the checks'
``validate.companions.CompanionRunner``; it lives in the catalogue, the lower layer, so
neither package imports the other back. The errors and results it hands out are defined
here so that ``companions`` and ``batch`` share them.
"""

from __future__ import annotations

import collections
import json
import logging
import mmap
import os
import queue
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

CHECKER_PATH = Path(__file__).resolve().parent.parent / "job" / "checker.py"
# the batch progress record of job/checker.py: (request id, index, index, request id)
PROGRESS = struct.Struct("<qqqq")


class CompanionError(Exception):
    """A companion could not be run (import failure, timeout, crash); the message says why."""


@dataclass
class CompanionResult:
    """What a command's companions said about one set of bound arguments.

    Attributes:
        error: the validation message (the job must be rejected), or None if valid.
        estimate: declared duration in seconds, or None.
        problem: why the estimate could not be made (a warning), or None.
    """

    error: str | None = None
    estimate: float | None = None
    problem: str | None = None


class FairLock:
    """A lock granted in the order it was asked for.

    `threading.Lock` is not: a thread that releases it and at once asks again usually gets
    it back, so the companion warm-up, which takes the runner's lock for one bounded
    import after another, could keep a `QUEUE:ADD` check waiting for all of them instead
    of the one in progress.
    """

    def __init__(self) -> None:
        self._turn = threading.Condition(threading.Lock())
        self._next = 0  # the ticket the next caller gets
        self._serving = 0  # the ticket that holds the lock

    def acquire(self) -> bool:
        """Wait for this caller's turn (no timeout: every holder releases)."""
        with self._turn:
            ticket = self._next
            self._next += 1
            while ticket != self._serving:
                self._turn.wait()
        return True

    def release(self) -> None:
        """Hand the lock to the next caller in line."""
        with self._turn:
            self._serving += 1
            self._turn.notify_all()

    @property
    def waiting(self) -> int:
        """How many callers wait for the lock."""
        with self._turn:
            return max(0, self._next - self._serving - 1)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


class Worker:
    """One checker process with threads draining its stdout (answers) and stderr (log).

    Not thread-safe: its runner sends one request at a time (under the runner's lock).

    Args:
        job_python: interpreter that runs ``job/checker.py``.
        command_dirs: the command directories (sent in the first message).

    Raises:
        CompanionError: the interpreter cannot be started.
    """

    def __init__(self, job_python: str, command_dirs: list[str]) -> None:
        try:
            self.proc = subprocess.Popen(
                [job_python, str(CHECKER_PATH)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise CompanionError(
                f"cannot start the job interpreter {job_python!r} for command checks: {exc}"
            ) from None
        self.answers: queue.Queue[dict | None] = queue.Queue()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=8)
        threading.Thread(target=self._read_answers, daemon=True, name="checker-out").start()
        threading.Thread(target=self._read_stderr, daemon=True, name="checker-err").start()
        self._progress_path, self._progress = progress_record()
        self.send({"command_dirs": [str(d) for d in command_dirs], "progress": self._progress_path})
        self.ready = False
        self.loaded: set[tuple] = set()  # (module, path) imported (or failed) in this worker

    def _read_answers(self) -> None:
        for raw in self.proc.stdout:  # type: ignore[union-attr]
            try:
                self.answers.put(json.loads(raw))
            except ValueError:
                logger.warning("checker wrote a line that is not JSON: %r", raw[:200])
        self.answers.put(None)

    def _read_stderr(self) -> None:
        for raw in self.proc.stderr:  # type: ignore[union-attr]
            line = raw.decode("utf-8", "replace").rstrip()
            self.stderr_tail.append(line)
            logger.debug("checker: %s", line)

    def send(self, message: dict) -> None:
        """Write one request line; a dead process is reported by ``receive``, not here."""
        data = (json.dumps(message, ensure_ascii=True, default=repr) + "\n").encode("ascii")
        try:
            self.proc.stdin.write(data)  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except OSError:
            pass  # the process died; the reader reports it as end of stream

    def receive(self, deadline: float) -> dict | None:
        """Next answer; None if the process ended. Raises queue.Empty at the deadline."""
        return self.answers.get(timeout=max(0.0, deadline - time.monotonic()))

    def started(self) -> None:
        """The worker said it is ready, so it has mapped the progress record's file."""
        self.ready = True
        if os.name == "posix" and self._progress_path is not None:
            self._remove_progress_file()  # nothing is left behind if the IOC is killed

    def _remove_progress_file(self) -> None:
        try:
            os.unlink(self._progress_path)  # type: ignore[arg-type]
        except OSError:
            logger.warning("cannot remove %s", self._progress_path)
        self._progress_path = None

    def progress(self, request_id: int) -> int | None:
        """Index of the item of batch ``request_id`` the worker started last, if known.

        The batch's length once it is done; None before it starts or without a record.
        """
        if self._progress is None:
            return None
        first, index, again, last = PROGRESS.unpack(self._progress[: PROGRESS.size])
        return index if first == last == request_id and index == again else None

    def died_because(self) -> str:
        """Why the process ended (exit code and the tail of its stderr), for an error."""
        try:
            code = self.proc.wait(timeout=2)  # its output closed: it is exiting
        except subprocess.TimeoutExpired:
            code = None
        tail = " | ".join(line for line in self.stderr_tail if line)[-500:]
        what = f"exited with code {code}" if code is not None else "closed its output"
        return what + (f": {tail}" if tail else "")

    def stop(self) -> None:
        """Kill the process and release its pipes and progress record (idempotent)."""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            logger.error("checker pid %s did not exit after kill", self.proc.pid)
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass  # the readers close stdout/stderr when they reach the end
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        if self._progress_path is not None:
            self._remove_progress_file()


def progress_record() -> tuple[str | None, mmap.mmap | None]:
    """A zeroed file for the worker's batch progress record, and its map (None on failure)."""
    path = None
    try:
        descriptor, path = tempfile.mkstemp(prefix="scriptserver-checker-", suffix=".progress")
        try:
            os.write(descriptor, bytes(PROGRESS.size))
            return path, mmap.mmap(descriptor, PROGRESS.size)
        finally:
            os.close(descriptor)
    except (OSError, ValueError) as exc:
        logger.warning("no batch progress record for the command checker: %s", exc)
        if path is not None:
            try:
                os.unlink(path)
            except OSError:
                pass
        return None, None
