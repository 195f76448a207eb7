"""The core's ports: how it sees the world, each a small Protocol that `app.py` fills in.

The core (`core/`) decides; it does no I/O of its own. It reaches the store, the job
runner, the checks, the files of jobs and the passing of time only through these, so
it runs the same over the real SQLite store, threads and files (`app.py`,
`scriptserver_ioc.host`) as over a test's own. `tests/test_layering.py` holds the core
to that: no `sqlite3`, `open`, `os.stat`, thread or Channel Access in `core/`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

FILE_TEXT = "file_text"
"""Key of a `file` job's script text in the records the core gives `Checks` (`Job.check_record`):
the checks use it and read no file."""


@dataclass(frozen=True)
class ScriptFile:
    """A `file` job's script as read from the scripts folder, carried in the job.

    Attributes:
        text: the script's text ("" when it could not be read).
        path: the file's resolved path (the job's file name when it could not be read).
        digest: what identifies this text (16 hex digits of its sha256; "missing" when
            it could not be read): a pre-flight verdict names the text it was made for.
        problem: why the file could not be read, or None.
    """

    text: str
    path: str
    digest: str
    problem: str | None = None

    @classmethod
    def unreadable(cls, name: Any, problem: str) -> ScriptFile:
        """A script that could not be read, and why."""
        return cls("", str(name), "missing", problem)


class StoreError(Exception):
    """The store cannot read or write (e.g. ``database or disk is full``).

    The store raises this, whatever its engine's own error: the core decides what a failed
    write means (a refused queue edit, a safety action kept in memory) without knowing it.
    """


class Store(Protocol):
    """The database: queue, history, settings, durations, event log (`store.sqlite.Store`).

    Writes are made only inside `transaction()` and only through `core.decision.Writes`;
    a failed transaction raises `StoreError` and changes nothing.
    """

    def transaction(self) -> AbstractContextManager[None]:
        """One committed transaction of the writes made inside it."""

    def next_job_id(self) -> int:
        """The id of the next job (ids are never reused)."""

    def queued_jobs(self) -> list[tuple[Any, float]]:
        """The queued jobs with their sort keys."""

    def active_jobs(self) -> list[tuple[Any, dict | None]]:
        """Jobs left running by an earlier server, with their process handles."""

    def history(self, limit: int) -> list[Any]:
        """The newest `limit` finished jobs, newest first."""

    def finished_job(self, job_id: int) -> Any | None:
        """A finished job by id, or None."""

    def setting(self, key: str, default: Any = None) -> Any:
        """A stored setting, or `default`."""

    def log_lines(self, limit: int) -> list[str]:
        """The newest `limit` lines of the event log."""

    def durations(self, key: str) -> list[float]:
        """Measured durations of earlier runs of the job with this key."""


class Cancellable(Protocol):
    """A timer that was started: `cancel()` stops it if it has not fired."""

    def cancel(self) -> None:
        """Stop the timer if it has not fired."""


class Timers(Protocol):
    """The passing of time: the clock, timers and background work (`host.ThreadTimers`).

    Tests give the core a clock they advance (`tests/manual_clock.py`) instead of sleeping.
    """

    def now(self) -> float:
        """Seconds since the epoch (`time.time()`): the times a job record keeps."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (`time.monotonic()`): for waits."""
        ...

    def call_later(self, seconds: float, action: Callable[[], None]) -> Cancellable:
        """Call `action()` once, `seconds` from now, on a thread of its own."""
        ...

    def in_background(self, action: Callable[[], None], name: str) -> None:
        """Run `action()` now on a thread of its own (e.g. a dry run)."""
        ...


class JobFiles(Protocol):
    """The files of jobs: scripts from the scripts folder, output logs, saved figures."""

    def read_script(self, name: str, recheck: bool = False) -> ScriptFile:
        """Script file `name` of the scripts folder, as it is now (never with the core lock).

        `recheck`: a look again at a file read before, which may be answered without
        reading it when it is unchanged on disk (its size and modification time).

        Raises:
            ValueError: no scripts folder, a name outside it, or a file that cannot be read
                (the message says which).
        """
        ...

    def log_tail(self, path: Path, chars: int) -> tuple[str, int] | None:
        """The last `chars` characters of a job's output log and its size in bytes.

        None when the job has no log; raises OSError when it cannot be read.
        """
        ...

    def figures(self, log_path: Path) -> list[str]:
        """The figures the job with this log saved, in the order they were made."""
        ...


class Runner(Protocol):
    """The job runner (`runner.Runner`): starts and controls job processes.

    Called outside the core lock, after the decision that asked for the call committed.
    """

    def start(self, launch: dict) -> None:
        """Start a job process (`launch`: what and how to run)."""

    def pause(self, immediate: bool) -> str | None:
        """Pause the running job at its next line, or at once; an error text or None."""

    def resume(self) -> str | None:
        """Resume the paused job; an error text or None."""

    def abort(self, kill: bool, reason: str = "") -> str | None:
        """Stop the running job (`kill`: at once); an error text or None."""

    def edit(self, number: int, source: str) -> str | None:
        """Send the running job edit `number` of its script; an error text or None."""

    def adopt(self, job_id: int, handle: dict, log_path: str) -> None:
        """Take over a job process left running by an earlier server."""


class Checks(Protocol):
    """The checks of jobs (`validate.Validator`): validation, estimates, dry runs."""

    def check_many(self, records: Iterable[dict]) -> list[Any]:
        """Check prepared job records; one verdict each, in order.

        A `file` job's record carries its script's text under `FILE_TEXT`: no file is read.
        """

    def is_quick(self, record: dict) -> bool:
        """True if checking this record needs no slow work."""

    def dry_run(self, job: Any, source: str, filename: str) -> dict:
        """Dry-run a job's source: its outcome (steps, writes, output, error)."""
