"""SQLite persistence of the queue, the history, the settings and learned durations.

The database runs in WAL mode with `synchronous=NORMAL`: a committed transaction survives
the process being killed (it may be lost only to a power failure of the host). Every
accepted change is one transaction, committed before the server publishes its reply.
The fault campaign can make every commit fail as on a full disk (`fault_hooks`).
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import fault_hooks
from ..core.bounds import BadRecord, job_from_row, strict_json_loads
from ..core.jobs import Job, now_iso
from ..core.ports import StoreError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
HISTORY_DURATIONS_KEPT = 20
LOG_LINES_KEPT = 2_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    position REAL,
    finished_seq INTEGER,
    record TEXT NOT NULL,
    handle TEXT
);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs(position) WHERE position IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_history ON jobs(finished_seq) WHERE finished_seq IS NOT NULL;
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS durations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    seconds REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS durations_key ON durations(key);
CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id,
    record,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


class Store:
    """The script server's database in the data directory.

    Thread-safe: one connection guarded by a lock; the core calls it under its own lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._check_version()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from None
        self._lock = threading.RLock()
        self._in_transaction = False
        self._full_flag = fault_hooks.store_full_flag()  # None: always, in production
        self.quarantined: list[str] = []
        """Messages about stored rows set aside at start-up (for the event log)."""

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM settings WHERE key='schema'").fetchone()
        if row is None:
            self._db.execute(
                "INSERT INTO settings(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
            )
        elif not str(row[0]).isdigit():
            log.error("the stored schema version %r is not a number; assuming %d", row[0], 1)
        elif int(row[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"the database {self.path} has schema {row[0]}, newer than this server "
                f"({SCHEMA_VERSION})"
            )

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one committed transaction (nested calls join the outer one)."""
        with self._lock:
            if self._in_transaction:
                yield
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(str(exc)) from exc
            self._in_transaction = True
            try:
                yield
                if self._full_flag is not None and self._full_flag.exists():
                    raise sqlite3.OperationalError("database or disk is full")  # test fault
                self._db.execute("COMMIT")  # a full disk often fails here
            except (sqlite3.Error, OSError) as exc:  # the core knows only StoreError
                self._roll_back()
                raise StoreError(str(exc)) from exc
            except BaseException:
                self._roll_back()
                raise
            finally:
                self._in_transaction = False

    def _roll_back(self) -> None:
        """Undo the open transaction, if SQLite has not already (it may after a failed COMMIT)."""
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error as exc:  # the transaction's own error is the one to report
                log.warning("rollback failed: %s", exc)

    # -- jobs ---------------------------------------------------------------------------

    def save_jobs(self, jobs: Iterable[tuple[Job, float | None]]) -> None:
        """Insert or replace job rows; a key (position) marks a queued job."""
        rows = [(job.id, job.state.value, key, job.json_text()) for job, key in jobs]
        with self.transaction():
            self._db.executemany(
                "INSERT INTO jobs(id, state, position, record) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET state=excluded.state, position=excluded.position, "
                "record=excluded.record",
                rows,
            )

    def save_job(self, job: Job, key: float | None = None, handle: dict | None = None) -> None:
        """Insert or replace one job row; `handle` is kept for a running job's recovery."""
        with self.transaction():
            self.save_jobs([(job, key)])
            if handle is not None:
                self._db.execute(
                    "UPDATE jobs SET handle=? WHERE id=?", (json.dumps(handle), job.id)
                )

    def finish_job(self, job: Job) -> None:
        """Store a job that reached a terminal state as the newest history entry."""
        with self.transaction():
            seq = self._db.execute(
                "SELECT COALESCE(MAX(finished_seq), 0) + 1 FROM jobs"
            ).fetchone()[0]
            self._db.execute(
                "INSERT INTO jobs(id, state, position, finished_seq, record, handle) "
                "VALUES (?, ?, NULL, ?, ?, NULL) ON CONFLICT(id) DO UPDATE SET "
                "state=excluded.state, position=NULL, finished_seq=excluded.finished_seq, "
                "record=excluded.record, handle=NULL",
                (job.id, job.state.value, seq, job.json_text()),
            )

    def set_keys(self, keys: dict[int, float]) -> None:
        """Update the sort keys of queued jobs."""
        with self.transaction():
            self._db.executemany(
                "UPDATE jobs SET position=? WHERE id=?", [(k, i) for i, k in keys.items()]
            )

    def delete_jobs(self, job_ids: Iterable[int]) -> None:
        """Delete job rows (removed from the queue without a history entry)."""
        with self.transaction():
            self._db.executemany("DELETE FROM jobs WHERE id=?", [(i,) for i in job_ids])

    def queued_jobs(self) -> list[tuple[Job, float]]:
        """Every queued job with its sort key, in run order (bad rows are quarantined)."""
        rows = self._db.execute(
            "SELECT id, record, position FROM jobs WHERE position IS NOT NULL ORDER BY position"
        ).fetchall()
        jobs = []
        for row_id, record, key in rows:
            job = self._job(row_id, record, key)
            if job is not None:
                jobs.append((job, key))
        return jobs

    def active_jobs(self) -> list[tuple[Job, dict | None]]:
        """Jobs that were running or paused when the server stopped, with their handles."""
        rows = self._db.execute(
            "SELECT id, record, handle FROM jobs WHERE position IS NULL AND finished_seq IS NULL "
            "ORDER BY id"
        ).fetchall()
        jobs = []
        for row_id, record, handle in rows:
            job = self._job(row_id, record)
            if job is not None:
                jobs.append((job, _handle(handle)))
        return jobs

    def history(self, limit: int) -> list[Job]:
        """The most recently finished jobs, newest first (bad rows are quarantined)."""
        rows = self._db.execute(
            "SELECT id, record FROM jobs WHERE finished_seq IS NOT NULL "
            "ORDER BY finished_seq DESC LIMIT ?",
            (limit,),
        ).fetchall()
        jobs = [self._job(row_id, record) for row_id, record in rows]
        return [job for job in jobs if job is not None]

    def finished_job(self, job_id: int) -> Job | None:
        """A finished job by id (also older than the history PV shows)."""
        row = self._db.execute(
            "SELECT id, record FROM jobs WHERE id=? AND finished_seq IS NOT NULL", (job_id,)
        ).fetchone()
        return self._job(*row) if row else None

    def _job(self, row_id: Any, record: Any, key: Any = None) -> Job | None:
        """The job of a row, or None after moving a row that cannot be served aside."""
        try:
            if key is not None and not (isinstance(key, (int, float)) and math.isfinite(key)):
                raise BadRecord(f"its queue position {key!r:.40} is not a finite number")
            if not isinstance(record, str):
                raise BadRecord("the record is not text")
            job, repairs = job_from_row(row_id, record)
        except BadRecord as exc:
            self._quarantine(row_id, record, str(exc))
            return None
        if repairs:
            message = f"job {row_id}: {'; '.join(repairs)}"
            log.error("%s", message)
            self.quarantined.append(message)
            try:
                with self.transaction():
                    self._db.execute(
                        "UPDATE jobs SET record=? WHERE id=?", (job.json_text(), row_id)
                    )
            except sqlite3.Error as exc:
                log.error("cannot store the repaired job %s: %s", row_id, exc)
        return job

    def _quarantine(self, row_id: Any, record: Any, reason: str) -> None:
        message = (
            f"job row {row_id!r:.40} set aside in the quarantine table of {self.path.name}: "
            f"{reason}"
        )
        log.error("%s", message)
        self.quarantined.append(message)
        try:
            with self.transaction():
                self._db.execute(
                    "INSERT INTO quarantine(job_id, record, reason, at) VALUES (?, ?, ?, ?)",
                    (row_id, record, reason, now_iso()),
                )
                self._db.execute("DELETE FROM jobs WHERE id IS ?", (row_id,))
        except sqlite3.Error as exc:  # e.g. disk full: skipped in memory, kept on disk
            log.error("cannot move job row %r to the quarantine table: %s", row_id, exc)

    # -- settings, ids, durations, log ------------------------------------------------

    def setting(self, key: str, default: Any = None) -> Any:
        """A stored setting (JSON value), or `default` (also for a value that is not JSON)."""
        row = self._db.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        if row is None:
            return default
        try:
            value = strict_json_loads(row[0])
        except (ValueError, TypeError, RecursionError):
            value = _NOT_JSON
        if value is _NOT_JSON or (default is not None and type(value) is not type(default)):
            message = f"setting {key!r} holds {row[0]!r:.60}, not a {type(default).__name__}"
            log.error("%s; using %r", message, default)
            self.quarantined.append(f"{message}; the default {default!r} is used")
            return default
        return value

    def set_setting(self, key: str, value: Any) -> None:
        """Store a setting as JSON."""
        with self.transaction():
            self._db.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, json.dumps(value)),
            )

    def next_job_id(self) -> int:
        """The id of the next new job; ids are never reused for the life of the database.

        Above every stored id (quarantined rows included) and the stored `next_id`. The
        core allocates ids in memory from it and stores `next_id` with each add.
        """
        with self._lock:
            highest = self._db.execute(  # quarantined rows keep their ids too
                "SELECT MAX((SELECT COALESCE(MAX(id), 0) FROM jobs), (SELECT COALESCE(MAX("
                "job_id), 0) FROM quarantine WHERE typeof(job_id) = 'integer'))"
            ).fetchone()[0]
            stored = self.setting("next_id", 1)
        return max(stored if isinstance(stored, int) and 0 < stored <= 2**31 else 1, highest + 1)

    def add_duration(self, key: str, seconds: float) -> None:
        """Record a measured duration for `key`, keeping the most recent ones."""
        with self.transaction():
            self._db.execute("INSERT INTO durations(key, seconds) VALUES (?, ?)", (key, seconds))
            self._db.execute(
                "DELETE FROM durations WHERE key=? AND seq NOT IN "
                "(SELECT seq FROM durations WHERE key=? ORDER BY seq DESC LIMIT ?)",
                (key, key, HISTORY_DURATIONS_KEPT),
            )

    def durations(self, key: str) -> list[float]:
        """Measured durations recorded for `key`, oldest first."""
        rows = self._db.execute("SELECT seconds FROM durations WHERE key=? ORDER BY seq", (key,))
        return [seconds for (seconds,) in rows]

    def append_log(self, line: str) -> None:
        """Keep a line of the server's event log (the most recent lines are kept)."""
        with self.transaction():
            seq = self._db.execute("INSERT INTO log(line) VALUES (?)", (line,)).lastrowid
            if seq % 100 == 0:
                self._db.execute("DELETE FROM log WHERE seq <= ?", (seq - LOG_LINES_KEPT,))

    def log_lines(self, limit: int) -> list[str]:
        """The last `limit` lines of the event log, oldest first."""
        rows = self._db.execute("SELECT line FROM log ORDER BY seq DESC LIMIT ?", (limit,))
        return [line for (line,) in rows][::-1]


_NOT_JSON = object()


def _handle(text: Any) -> dict | None:
    """A stored recovery handle, or None if it is missing or unreadable."""
    try:
        handle = strict_json_loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        return None
    return handle if isinstance(handle, dict) else None
