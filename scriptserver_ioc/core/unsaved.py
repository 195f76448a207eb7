"""When the database cannot be written (a full disk): say so, keep what happened, retry.

What happened whatever the store says (a job's real end and the other facts the runner
reports, a safety action such as ABORT that was carried out) keeps its store writes in
memory, in order, and they are written as soon as a retry succeeds; until then
`STATUS.store_error` and `LAST_ERROR` say what is wrong, and a job that ended keeps its end
in memory (history, `LAST:*`). Each attempt is one transaction, so nothing is ever
half-written: a job's row is either its old one or its complete end.
"""

from __future__ import annotations

import logging
from typing import Any

from .ports import Cancellable

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0


class UnsavedEnds:
    """Store writes that could not be made yet, and the store's last write error.

    Args:
        server: the `ScriptServer` (its lock guards everything here).
    """

    def __init__(self, server: Any) -> None:
        self.server = server
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        """Kept store writes (`decision.Writes` calls), oldest first."""
        self.jobs: list[Any] = []
        """Jobs whose end is among the kept writes."""
        self.error: str | None = None
        self.held = False
        """True if the queue was held here (and is released once the writes are stored)."""
        self._timer: Cancellable | None = None

    def write_failed(self, what: str, exc: BaseException) -> str:
        """Note a failed store write (lock held); returns the message for users."""
        self.error = (
            f"the database cannot be written ({exc}); {what}. Free space in the data "
            "directory: the server retries by itself"
        )
        self.server.last_error = self.error
        self.server.touch("last_error", "status")
        return self.error

    def keep_writes(self, calls: list, what: str, exc: BaseException) -> str:
        """Keep store writes that were refused, to make them later (lock held).

        Args:
            calls: the refused writes, in order (`decision.Writes.calls`).
            what: what happened to the change, for users.
            exc: the store's error.

        Returns:
            The message for users.
        """
        self.calls.extend(calls)
        self._arm()
        return self.write_failed(what, exc)

    def keep(self, job: Any, exc: BaseException) -> None:
        """A job's end could not be stored (lock held): keep it in memory, hold the queue.

        Its write is among the kept writes of the scope of facts (`keep_writes`).
        """
        log.error("cannot store the end of job %s: %s", job.id, exc)
        self.jobs.append(job)
        if job not in self.server.history:
            self.server.history.appendleft(job)
        if not self.server.hold:  # start nothing more until the store can be written
            self.server.hold, self.held = True, True
        self.server.touch("history", "last", "state", "settings")
        self.write_failed(f"job {job.id} ended {job.state.value}; its end is kept until then", exc)

    def hold_until_writable(self, exc: BaseException) -> None:
        """The start of the next job could not be stored (lock held): hold until it can."""
        if not self.server.hold:
            self.server.hold, self.held = True, True
        self.server.touch("settings", "state")
        self.write_failed("no job is started until it can be", exc)
        self._arm()

    def _arm(self) -> None:
        if self._timer is None and not self.server.closed:
            self._timer = self.server.timers.call_later(RETRY_SECONDS, self.retry)

    def retry(self) -> bool:
        """Make the kept writes now (any thread); True when nothing is left unsaved."""
        with self.server.lock:
            self._timer = None
            if self.server.closed:
                return not self.calls
            try:
                with self.server.deciding():  # all or nothing
                    for name, args, kwargs in self.calls:
                        getattr(self.server.writes, name)(*args, **kwargs)
                    ids = ", ".join(str(job.id) for job in self.jobs)
                    stored = f"stored the end of job {ids}: " if self.jobs else ""
                    kept = f"stored {len(self.calls)} kept writes: " if self.calls else ""
                    self.server.log_event(f"{stored or kept}the database can be written again")
            except Exception as exc:  # still full
                log.warning("the database still cannot be written: %s", exc)
                self._arm()
                return False
            self.calls, self.jobs = [], []
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
