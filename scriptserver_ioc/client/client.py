"""A Python client of the script server over Channel Access (pyepics).

One method per control PV, each returning the server's `Reply` to this client's write,
found by the `request_id` the client puts into the write where the PV takes one (QUEUE:ADD,
MOVE, UPDATE, REPEAT, RERUN, VALIDATE), else by the REPLY sequence number: the first reply
for that PV after this write began. A refused write raises `Refused` (with the reply) unless
`check=False`. Reads give names for enum PVs and parsed JSON for JSON PVs::

    from scriptserver_ioc.client import ScriptServerClient

    c = ScriptServerClient("IN:LARMOR:CS:SCRIPTSERVER:")
    (job_id,) = c.add("set_ei(25)", name="chopper to 25 meV")
    job = c.wait_for_job(job_id, timeout=600)
    print(job["state"], c.state())
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from ..contract.pvtable import ENUMS
from ..contract.reply import Reply
from .channels import (
    AddedJobs,
    Channels,
    ClientError,
    EnumValue,
    Refused,
    decode_text,
    encode_text,
)

_GONE_AFTER = 2.0  # seconds a job may be in none of QUEUE, CURRENT:ID and HISTORY

__all__ = [
    "AddedJobs",
    "ClientError",
    "EnumValue",
    "Refused",
    "Reply",
    "ScriptServerClient",
    "decode_text",
    "encode_text",
]


def _call_spec(spec: str | dict[str, Any]) -> dict[str, Any]:
    return {"call": spec} if isinstance(spec, str) else dict(spec)


class ScriptServerClient(Channels):
    """Talks to one script server.

    Args:
        prefix: the server's PV prefix, e.g. "IN:LARMOR:CS:SCRIPTSERVER:".
        timeout: seconds to wait for connections and puts.
    """

    # -- matching replies --------------------------------------------------------------

    def _newest_seq(self) -> int:
        entries = self.replies()
        return entries[0]["seq"] if entries else 0

    def _control(
        self,
        pv: str,
        value: Any,
        check: bool = True,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """Write a control PV and return the reply to this write."""
        before = self._newest_seq()
        self._write(pv, value, timeout=timeout)
        after = [e for e in self.replies() if e["pv"] == pv and e["seq"] > before]
        if request_id is not None:
            mine = [e for e in after if e["request_id"] == request_id]
            # a write refused before its request id was read has a reply without one
            after = mine or [e for e in after if e["request_id"] is None]
        if not after:
            raise ClientError(f"no reply from the server to the write to {pv}")
        reply = Reply.from_entry(after[-1])
        if check and not reply.ok:
            raise Refused(reply)
        return reply

    def _request(
        self, pv: str, obj: dict[str, Any], check: bool = True, timeout: float | None = None
    ) -> Reply:
        request_id = obj.get("request_id") or self.new_request_id()
        return self._control(pv, {**obj, "request_id": request_id}, check, request_id, timeout)

    @staticmethod
    def new_request_id() -> str:
        """A fresh request id (unique across clients)."""
        return uuid.uuid4().hex[:16]

    def request(self, name: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Write a JSON object with a request id; return its reply entry (raise if refused)."""
        reply = self._request(name, obj)
        return {**reply.__dict__}

    # -- queue -------------------------------------------------------------------------

    def add(
        self,
        spec: str | dict[str, Any] | list[dict[str, Any]],
        *,
        name: str | None = None,
        tags: dict[str, Any] | None = None,
        blackbox: bool | None = None,
        position: int | None = None,
        check: bool = True,
    ) -> AddedJobs:
        """QUEUE:ADD: queue a call (`"set_ei(25)"`), a job spec or a batch (list of specs).

        Returns the new ids (a list with `.reply`); raises `Refused` if nothing was queued.
        The options apply to a single job; give them in each spec of a batch.
        """
        options = {"name": name, "tags": tags, "blackbox": blackbox, "position": position}
        options = {k: v for k, v in options.items() if v is not None}
        if isinstance(spec, list):
            if options:
                raise ValueError("give name, tags, blackbox and position in each spec of a batch")
            batch = [_call_spec(s) for s in spec]
            request_id = (batch[0].get("request_id") if batch else None) or self.new_request_id()
            if batch:
                batch[0]["request_id"] = request_id
            reply = self._control("QUEUE:ADD", batch, check, request_id)
        else:
            reply = self._request("QUEUE:ADD", {**_call_spec(spec), **options}, check)
        return AddedJobs(reply.job_ids, reply)

    def remove(self, ids: int | list[int] | str, check: bool = True) -> Reply:
        """QUEUE:REMOVE: delete queued jobs (an id, a list of ids, or "all")."""
        value = ids if ids == "all" else str(ids) if isinstance(ids, int) else list(ids)
        return self._control("QUEUE:REMOVE", value, check)

    def move(
        self,
        job_id: int,
        *,
        to: int | str | None = None,
        before: int | None = None,
        after: int | None = None,
        by: int | None = None,
        check: bool = True,
    ) -> Reply:
        """QUEUE:MOVE one job; give exactly one place.

        Args:
            job_id: the job to move.
            to: the index it has afterwards (0 = next to run), or "top" / "bottom".
            before: the id of the job it goes before.
            after: the id of the job it goes after.
            by: places to move (negative = earlier), clamped to the ends.
            check: raise `Refused` if the server refuses.
        """
        where = {"to": to, "before": before, "after": after, "by": by}
        where = {k: v for k, v in where.items() if v is not None}
        if len(where) != 1:
            raise ValueError("give exactly one of to, before, after, by")
        return self._request("QUEUE:MOVE", {"id": job_id, **where}, check)

    def reorder(self, order: list[int], check: bool = True) -> Reply:
        """QUEUE:MOVE with a full `order`: listed ids first, the others after them."""
        return self._request("QUEUE:MOVE", {"order": list(order)}, check)

    def update(self, job_id: int, check: bool = True, **fields: Any) -> Reply:
        """QUEUE:UPDATE: edit a queued job (fields of a spec: call, args, script, name, ...)."""
        return self._request("QUEUE:UPDATE", {"id": job_id, **fields}, check)

    def repeat(self, job_id: int, times: int = 1, check: bool = True) -> Reply:
        """QUEUE:REPEAT: insert `times` copies right after a queued job."""
        return self._request("QUEUE:REPEAT", {"id": job_id, "times": times}, check)

    def rerun(self, job_id: int, check: bool = True, **fields: Any) -> Reply:
        """QUEUE:RERUN: queue a copy of a finished job, optionally edited (position, name...)."""
        return self._request("QUEUE:RERUN", {"id": job_id, **fields}, check)

    def skip(self, job_id: int, check: bool = True) -> Reply:
        """QUEUE:SKIP: a queued job goes to history as SKIPPED; the current job is ended."""
        return self._control("QUEUE:SKIP", str(job_id), check)

    def clear(self, check: bool = True) -> Reply:
        """QUEUE:CLEAR: delete every queued job."""
        return self._control("QUEUE:CLEAR", 1, check)

    def hold(self, check: bool = True) -> Reply:
        """QUEUE:HOLD = HOLD: finish the current job and start no new one."""
        return self._control("QUEUE:HOLD", 1, check)

    def release(self, check: bool = True) -> Reply:
        """QUEUE:HOLD = RUN: start queued jobs again."""
        return self._control("QUEUE:HOLD", 0, check)

    def set_on_error(self, mode: str, check: bool = True) -> Reply:
        """QUEUE:ON_ERROR: "HOLD" the queue after a failed job, or "CONTINUE"."""
        return self._control("QUEUE:ON_ERROR", _index("QUEUE:ON_ERROR", mode), check)

    # -- the current job ---------------------------------------------------------------

    def pause(self, now: bool = False, check: bool = True) -> Reply:
        """PAUSE: at the next pause point, or with `now` suspend the job's processes at once."""
        return self._control("PAUSE", 2 if now else 1, check)

    def resume(self, check: bool = True) -> Reply:
        """RESUME: continue a paused job."""
        return self._control("RESUME", 1, check)

    def abort(self, kill: bool = False, check: bool = True) -> Reply:
        """ABORT: an exception at the next pause point (escalating), or with `kill` kill now."""
        return self._control("ABORT", 2 if kill else 1, check)

    def stop(self, check: bool = True) -> Reply:
        """STOP: abort the current job and empty the queue."""
        return self._control("STOP", 1, check)

    # -- validation and catalogue --------------------------------------------------------

    def validate(
        self, spec: str | dict[str, Any], dry_run: bool = False, timeout: float = 120.0
    ) -> dict[str, Any]:
        """VALIDATE: check a job without queueing; the VALIDATE:RESULT of this request.

        A dry run simulates the job; the write completes when the result is ready.
        """
        obj = _call_spec(spec)
        if dry_run:
            obj["dry_run"] = True
        request_id = obj.get("request_id") or self.new_request_id()
        self._request("VALIDATE", {**obj, "request_id": request_id}, False, timeout)
        result = self.get_json("VALIDATE:RESULT")
        if result.get("request_id") != request_id:
            raise ClientError("another client's validation replaced the result; try again")
        return result

    def reload_commands(self, check: bool = True) -> Reply:
        """COMMANDS:RELOAD: re-read the command sources now."""
        return self._control("COMMANDS:RELOAD", 1, check)

    def commands(self) -> list[dict[str, Any]]:
        """The command catalogue: name, signature, description, doc, params, ..."""
        return self.get_json("COMMANDS")

    def command(self, name: str) -> dict[str, Any]:
        """One command of the catalogue by name (raises ClientError if unknown)."""
        for entry in self.commands():
            if entry["name"] == name:
                return entry
        raise ClientError(f"no command {name!r} in the catalogue")

    # -- reads ---------------------------------------------------------------------------

    def state(self) -> str:
        """STATE as a name: IDLE, RUNNING, PAUSING, PAUSED or ABORTING."""
        return self.get("STATE").name

    def status(self) -> dict[str, Any]:
        """The STATUS summary (state, hold, on_error, queue_count, queue_eta, ...)."""
        return self.get_json("STATUS")

    def queue(self) -> list[dict[str, Any]]:
        """The queued job records in run order."""
        return self.get_json("QUEUE")

    def current(self) -> dict[str, Any] | None:
        """The record of the running job, or None."""
        return self.get_json("CURRENT")

    def history(self) -> list[dict[str, Any]]:
        """The last 100 finished job records, newest first."""
        return self.get_json("HISTORY")

    def job(self, job_id: int) -> dict[str, Any]:
        """A job's record wherever it is: current, queued, or in the history."""
        current = self.current()
        if current and current["id"] == job_id:
            return current
        for record in [*self.queue(), *self.history()]:
            if record["id"] == job_id:
                return record
        raise ClientError(f"job {job_id} is neither current, queued nor in the last 100 finished")

    def output(self, job_id: int, attempts: int = 5) -> str:
        """The last 16 kB of any job's output (JOB:OUTPUT:SELECT, then JOB:OUTPUT).

        Raises `Refused` if the server has no log of the job, ClientError if other clients
        keep selecting other jobs in between.
        """
        for _ in range(attempts):
            self._control("JOB:OUTPUT:SELECT", job_id)
            if self.get("JOB:OUTPUT:ID") == job_id:
                text = self.get_text("JOB:OUTPUT")
                if self.get("JOB:OUTPUT:ID") == job_id:
                    return text
        raise ClientError("other clients kept selecting other jobs' output; ask again")

    def plots(self, job_id: int, attempts: int = 5) -> list[str]:
        """The PNG files of the figures a job saved (JOB:OUTPUT:SELECT, then JOB:PLOTS).

        Raises `Refused` if the server has no log of the job, ClientError if other clients
        keep selecting other jobs in between.
        """
        for _ in range(attempts):
            self._control("JOB:OUTPUT:SELECT", job_id)
            listing = self.get_json("JOB:PLOTS")
            if listing.get("id") == job_id:
                return list(listing.get("plots") or [])
        raise ClientError("other clients kept selecting other jobs; ask again")

    def finished(self, job_id: int) -> dict[str, Any] | None:
        """The history record of a finished job, or None if it has not finished."""
        return next((r for r in self.history() if r["id"] == job_id), None)

    def wait_for_job(
        self, job_id: int, timeout: float = 3600.0, interval: float = 0.2
    ) -> dict[str, Any]:
        """Wait until job `job_id` has finished; its history record (state DONE, FAILED...).

        Raises ClientError if the job is removed from the queue without running, or after
        `timeout` seconds.
        """
        missing_since: list[float] = []  # when the job was first seen nowhere

        def done() -> dict[str, Any] | None:
            if self.get("CURRENT:ID") == job_id:
                missing_since.clear()
                return None
            record = self.finished(job_id)
            if record is not None or any(r["id"] == job_id for r in self.queue()):
                missing_since.clear()
                return record
            # The server publishes QUEUE, CURRENT:ID and HISTORY one after another, so a job
            # handed over or ending can be in none of them for a moment: only a job missing
            # for a while was removed without running.
            now = time.monotonic()
            if not missing_since:
                missing_since.append(now)
            elif now - missing_since[0] > _GONE_AFTER:
                raise ClientError(f"job {job_id} is not queued, running or finished")
            return None

        return self.wait_for(done, timeout, interval)

    def wait_until_idle(self, timeout: float = 3600.0, interval: float = 0.1) -> dict[str, Any]:
        """Wait until no job runs and none will start (queue empty or held); the STATUS."""

        def idle() -> dict[str, Any] | None:
            status = self.status()
            quiet = status["state"] == "IDLE" and not status.get("current_id")
            return status if quiet and (status["queue_count"] == 0 or status["hold"]) else None

        return self.wait_for(idle, timeout, interval)


def _index(pv: str, mode: str | int) -> int:
    names = ENUMS[pv]
    if isinstance(mode, int) and 0 <= mode < len(names):
        return mode
    if isinstance(mode, str) and mode.upper() in names:
        return names.index(mode.upper())
    raise ValueError(f"{pv} takes one of {', '.join(names)}, got {mode!r}")
