"""When the database cannot be written (a full disk): say so, keep jobs' real ends.

A job that ends while the store refuses writes keeps its real end in memory (history,
`LAST:*`) and is stored as soon as a retry succeeds; until then `STATUS.store_error` and
`LAST_ERROR` say what is wrong. Each attempt is one transaction, so nothing is ever
half-written: a job's row is either its old one or its complete end.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0


class UnsavedEnds:
    """Jobs whose end could not be stored yet, and the store's last write error.

    Args:
        server: the `ScriptServer` (its lock guards everything here).
    """

    def __init__(self, server: Any) -> None:
        self.server = server
        self.jobs: list[Any] = []
        self.error: str | None = None
        self.held = False
        """True if the queue was held here (and is released once the ends are stored)."""
        self._timer: threading.Timer | None = None

    def write_failed(self, what: str, exc: BaseException) -> str:
        """Note a failed store write (lock held); returns the message for users."""
        self.error = (
            f"the database cannot be written ({exc}); {what}. Free space in the data "
            "directory: the server retries by itself"
        )
        self.server.last_error = self.error
        self.server.touch("last_error", "status")
        return self.error

    def keep(self, job: Any, exc: BaseException) -> None:
        """A job's end could not be stored (lock held): keep it and retry later."""
        log.error("cannot store the end of job %s: %s", job.id, exc)
        self.jobs.append(job)
        if job not in self.server.history:
            self.server.history.appendleft(job)
        if not self.server.hold:  # start nothing more until the store can be written
            self.server.hold, self.held = True, True
        self.server.touch("history", "last", "state", "settings")
        self.write_failed(f"job {job.id} ended {job.state.value}; its end is kept until then", exc)
        self._arm()

    def hold_until_writable(self, exc: BaseException) -> None:
        """The start of the next job could not be stored (lock held): hold until it can."""
        if not self.server.hold:
            self.server.hold, self.held = True, True
        self.server.touch("settings", "state")
        self.write_failed("no job is started until it can be", exc)
        self._arm()

    def _arm(self) -> None:
        if self._timer is None and not self.server.closed:
            self._timer = threading.Timer(RETRY_SECONDS, self.retry)
            self._timer.daemon = True
            self._timer.start()

    def retry(self) -> bool:
        """Store the kept ends now (any thread); True when nothing is left unsaved."""
        with self.server.lock:
            self._timer = None
            if self.server.closed:
                return not self.jobs
            try:
                with self.server.deciding():  # all or nothing
                    for job in self.jobs:
                        self.server.writes.finish_job(job)
                    ids = ", ".join(str(job.id) for job in self.jobs)
                    stored = f"stored the end of job {ids}: " if self.jobs else ""
                    self.server.log_event(f"{stored}the database can be written again")
            except Exception as exc:  # still full
                log.warning("the database still cannot be written: %s", exc)
                self._arm()
                return False
            self.jobs = []
            self.error = None
            if self.held:
                self.server.hold, self.held = False, False
                self.server.touch("settings")
                self.server._maybe_start_next()
            self.server.touch("status")
        self.server._notify()
        return True

    def cancel(self) -> None:
        """Stop retrying (server shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
