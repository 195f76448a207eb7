"""The one place where the NICOS bridge touches the script server's core.

Everything the bridge reads from or asks of `core.server.ScriptServer` goes through
`CoreAdapter`, so a change of the core's API is an edit of this file only. Changes are
calls of the core's typed API (`add(specs)`, `remove(ids)`, `reorder(ids)`,
`update(id, fields)`, `pause(immediate)`, ...), the ones Channel Access writes are decoded
into (`ioc/writes.py`), so they are validated, stored, logged and published over CA
exactly as a PV write is; each reply is labelled with the PV such a write would name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.operation import Request
from ..core.preflight import FAILS, describe
from ..core.specs import Rejected, parse_id, parse_spec
from .protocol import STATUS_INBREAK

Call = Callable[[Request], Any]
"""One call of the core's typed API, given the request it answers."""
DECISION_TIMEOUT = 60.0
"""Seconds to wait for a change the core decides after slow work (checks, re-tried)."""
USER_TAG = "nicos_user"
"""Tag of jobs queued through the bridge: the NICOS login that queued them."""


@dataclass
class Outcome:
    """The core's answer to one change: accepted or not, its message, new job ids."""

    ok: bool
    message: str
    job_ids: list[int]


@dataclass
class CurrentJob:
    """What the bridge shows of the running job (or of the last one, when idle)."""

    job_id: int
    name: str
    source: str
    line: int | None
    log_path: Path | None


def reqid_of(job_id: int) -> str:
    """The NICOS request id of a job: its id as a string (stable for the job's life)."""
    return str(job_id)


def job_id_of(reqid: Any) -> int | None:
    """The job id a NICOS request id names, or None if it names no job."""
    if isinstance(reqid, str) and reqid.isascii() and reqid.isdigit() and len(reqid) < 19:
        return int(reqid)
    return None


class CoreAdapter:
    """Reads and changes the core for the bridge (see the module docstring).

    Args:
        core: the `ScriptServer`.
    """

    version = __version__

    def __init__(self, core: Any) -> None:
        self.core = core
        self._held = threading.local()
        self._last: tuple[Any, CurrentJob] | None = None

    # -- reading -------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[set[str]], None]) -> None:
        """Call `listener(topics)` after every change of the core (from any thread)."""
        self.core.add_listener(listener)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the core's lock: what is read inside stays true for the changes made inside.

        A change whose decision needs the core's slow work (a check) is not waited for
        inside: it is answered "pending" (the slow work needs the lock to conclude).
        """
        with self.core.lock:
            self._held.depth = getattr(self._held, "depth", 0) + 1
            try:
                yield
            finally:
                self._held.depth -= 1

    def state_code(self) -> int:
        """The NICOS status code (`STATE:CODE`)."""
        return self.core.state_code()

    def current(self) -> CurrentJob | None:
        """The running (or paused, or aborting) job, or None."""
        with self.core.lock:
            job = self.core.current
            if job is None:
                return None
            return CurrentJob(
                job.id, job.name, self.core.current_source, job.line, self.core.log_path(job.id)
            )

    def last_finished(self) -> CurrentJob | None:
        """The newest job of the history, or None."""
        with self.core.lock:
            if not self.core.history:
                return None
            job = self.core.history[0]
            if self._last is None or self._last[0] is not job:
                self._last = (job, CurrentJob(job.id, job.name, self._source(job), None, None))
            return self._last[1]

    def current_job_id(self) -> int | None:
        """The current job's id, read WITHOUT the core's lock (from any thread, any lock held).

        One attribute read, so it is some recent value, never a torn one. The core makes a
        job current before it logs "job N started" and clears it before it logs the job's
        end, so a log handler that reads it sees the job each record belongs after.
        """
        job = self.core.current
        return None if job is None else job.id

    def log_path(self, job_id: int) -> Path:
        """The file a job's output is written to (no lock: a function of the id)."""
        return Path(self.core.log_path(job_id))

    def gui_status_code(self) -> int:
        """The NICOS status shown to the GUI: `STATE:CODE`, but a held idle queue is paused.

        A NICOS queue never waits, so the GUI has no state for "held": it would show the
        queue as idle with its scripts never starting, and its buttons are disabled when
        idle. Shown as INBREAK, the GUI enables its Resume button, whose `continue`
        releases the hold (see docs/nicos.md).
        """
        with self.core.lock:
            if self.core.current is None and self.core.hold:
                return STATUS_INBREAK
            return self.core.state_code()

    def held_before_failing_job(self) -> str | None:
        """Why releasing the hold would hold again at once, or None.

        With QUEUE:ON_INVALID HOLD the queue holds before a job whose pre-flight (dry
        run) fails: released, it holds again before the same job. The text names the job,
        its predicted failure and what lets the queue go on.
        """
        with self.core.lock:
            core = self.core
            if core.current is not None or not core.hold or not core.on_invalid_hold:
                return None
            job = core.queue.first()
            if core.preflight_worker is None or job is None or core.preflight_stale(job):
                return None
            if (job.preflight or {}).get("verdict") != FAILS:
                return None
            return (
                f"script {job.id} ({job.name[:80]}) is predicted to fail "
                f"({describe(job.preflight)}): dequeue or edit it, or run it anyway with "
                "QUEUE:ON_INVALID RUN"
            )

    def held_idle(self) -> str | None:
        """Why the queue is held while no job runs (the hold's reason), or None."""
        with self.core.lock:
            if self.core.current is None and self.core.hold:
                return self.core.hold_reason or "the queue is held"
            return None

    def run_state(self) -> str:
        """IDLE, RUNNING, PAUSING, PAUSED or ABORTING (the `STATE` PV)."""
        return self.core.run_state.value

    def queued_ids(self) -> list[int]:
        """Ids of the queued jobs in run order."""
        with self.core.lock:
            return self.core.queue.ids()

    def queued_jobs(self) -> list[Any]:
        """The queued job records in run order (read them, never change them)."""
        with self.core.lock:
            return list(self.core.queue)

    def job_key(self, job: Any) -> str:
        """A text that changes whenever a queued job's record changes (its cached JSON)."""
        return job.json_text()

    def request_entry(self, job: Any) -> dict[str, Any]:
        """A queued job as NICOS serialises a request: reqid, name, script, user."""
        return {
            "reqid": reqid_of(job.id),
            "name": job.name,
            "script": self._source(job),
            "user": str((job.tags or {}).get(USER_TAG, "")),
        }

    def _source(self, job: Any) -> str:
        try:
            return self.core.job_source(job)
        except Exception:  # a file job whose file has gone: show its name
            return f"# file {job.file}\n" if job.file else ""

    # -- changing ------------------------------------------------------------------------

    def _decided(self, label: str, login: str, call: Callable[[Request], Any]) -> Outcome:
        """One call of the core's typed API; waits for a decision that needs slow work.

        Args:
            label: the reply's label: the control PV a Channel Access client would write.
            login: the NICOS login (the event log says `login@nicos`).
            call: `call(request)` makes the core call.
        """
        decided = threading.Event()
        replies: list[Any] = []

        def on_done(reply: Any) -> None:
            replies.append(reply)
            decided.set()

        reply = call(Request(label, f"{login}@nicos", None, on_done))
        if reply is None:
            if getattr(self._held, "depth", 0):
                return Outcome(True, f"{label}: being checked", [])
            if not decided.wait(DECISION_TIMEOUT):
                return Outcome(False, f"{label}: no decision within {DECISION_TIMEOUT:.0f} s", [])
            reply = replies[0]
        return Outcome(reply.ok, reply.message, list(reply.job_ids))

    def _typed(
        self, label: str, login: str, make: Callable[[], Callable[[Request], Any]]
    ) -> Outcome:
        """`_decided` of the call `make()` builds; values it refuses are refused by the core."""
        try:
            call = make()
        except Rejected as exc:
            problem = str(exc)
            return self._decided(label, login, lambda req: self.core.refuse(problem, req))
        return self._decided(label, login, call)

    def queue_script(self, name: str, code: str, login: str) -> Outcome:
        """Queue a script job (`add`), tagged with the login."""
        spec: dict[str, Any] = {"script": code, "tags": {USER_TAG: login}}
        if name:
            spec["name"] = name

        def make() -> Call:
            specs = [parse_spec(spec)]
            return lambda req: self.core.add(specs, req)

        return self._typed("QUEUE:ADD", login, make)

    def remove(self, job_ids: list[int] | None, login: str) -> Outcome:
        """Remove queued jobs (`remove`); None removes all."""

        def make() -> Call:
            ids = None if job_ids is None else list(dict.fromkeys(map(parse_id, job_ids)))
            return lambda req: self.core.remove(ids, req)

        return self._typed("QUEUE:REMOVE", login, make)

    def reorder(self, job_ids: list[int], login: str) -> Outcome:
        """Put the queue in this order (`reorder`)."""

        def make() -> Call:
            ids = [parse_id(job_id) for job_id in job_ids]
            return lambda req: self.core.reorder(ids, req)

        return self._typed("QUEUE:MOVE", login, make)

    def update_script(self, job_id: int, code: str, login: str) -> Outcome:
        """Replace a queued job's script text (`update`); its name stays, as in NICOS."""
        with self.core.lock:
            job = self.core.queue.get(job_id)
        fields = {"script": code}
        if job is not None:
            fields["name"] = job.name
        return self._typed(
            "QUEUE:UPDATE", login, lambda: lambda req: self.core.update(job_id, fields, req)
        )

    def pause(self, immediate: bool, login: str) -> Outcome:
        """Pause the current job, at its next pause point or at once (`pause`)."""
        return self._decided("PAUSE", login, lambda req: self.core.pause(immediate, req))

    def resume(self, login: str) -> Outcome:
        """Resume the paused job (`resume`)."""
        return self._decided("RESUME", login, lambda req: self.core.resume(req))

    def release_hold(self, login: str) -> Outcome:
        """Let the queue run again (`set_hold(False)`)."""
        return self._decided("QUEUE:HOLD", login, lambda req: self.core.set_hold(False, req))

    def stop(self, login: str) -> Outcome:
        """Abort the current job and empty the queue (`stop`)."""
        return self._decided("STOP", login, lambda req: self.core.stop(req))
