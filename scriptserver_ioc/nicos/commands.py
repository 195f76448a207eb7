"""The NICOS daemon commands that change something, with NICOS's semantics and error texts.

Each handler checks its arguments and preconditions and calls the core through the
adapter while holding the core's lock, so what it checked is still true when it acts. A
handler returns the reply payload or raises `CommandError` with the text the client sees.
Their source in NICOS: `nicos/services/daemon/handler.py` (`queue` .. `stop`) and
`nicos/services/daemon/script.py` (`rearrange_queue`, `script_stop`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from . import protocol as p
from .adapter import CoreAdapter, Outcome, job_id_of, reqid_of


class CommandError(Exception):
    """A command refused; the message is the error reply's text."""


def _level(value: Any) -> int:
    """A break or stop level as NICOS reads it (`int(level)`)."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise CommandError(p.COMMAND_FAILED) from None


def _checked(outcome: Outcome) -> None:
    if not outcome.ok:
        raise CommandError(outcome.message)


def nicos_order(client_ids: list[str], queued_ids: list[str]) -> list[str]:
    """The queue order a `rearrange` asks for, tolerating races as NICOS does.

    Ids the client lists that are no longer queued must lead its list (they started
    meanwhile); queued ids the client did not list must be the newest (queued meanwhile)
    and keep their place at the end.

    Raises:
        CommandError: any other difference ("Inconsistency between clients script IDs
            and queued IDs").
    """
    client = list(dict.fromkeys(client_ids))
    queued = set(queued_ids)
    gone = [i for i in client if i not in queued]
    if set(client[: len(gone)]) != set(gone):
        raise CommandError(p.INCONSISTENT_IDS)
    listed = set(client)
    new = [i for i in queued_ids if i not in listed]
    if new and set(queued_ids[-len(new) :]) != set(new):
        raise CommandError(p.INCONSISTENT_IDS)
    return client[len(gone) :] + new


class Commands:
    """The queue and script-control commands (`queue` .. `stop`).

    Args:
        adapter: the core adapter.
    """

    def __init__(self, adapter: CoreAdapter) -> None:
        self.adapter = adapter
        self.handlers: dict[str, Callable[..., Any]] = {
            "queue": self.queue,
            "unqueue": self.unqueue,
            "rearrange": self.rearrange,
            "update": self.update,
            "break": self.break_,
            "continue": self.continue_,
            "stop": self.stop,
        }

    def run(self, command: str, args: list[Any], login: str) -> Any:
        """Run one command: check the argument count as NICOS does, then the handler."""
        handler = self.handlers[command]
        params = list(inspect.signature(handler).parameters.values())[1:]
        most = len(params)
        least = sum(1 for param in params if param.default is inspect.Parameter.empty)
        if not least <= len(args) <= most:
            raise CommandError(p.INVALID_ARGUMENTS)
        return handler(login, *args)

    # -- queue editing -------------------------------------------------------------------

    def queue(self, login: str, name: Any, code: Any) -> str:
        """Queue a script; replies with its request id."""
        if not isinstance(code, str) or not isinstance(name, (str, type(None))):
            raise CommandError("queue takes [name, code]: the script name and text as strings")
        outcome = self.adapter.queue_script(name or "", code, login)
        _checked(outcome)
        return reqid_of(outcome.job_ids[0])

    def unqueue(self, login: str, reqid: Any) -> None:
        """Remove one queued script, or all with '*'."""
        if reqid == "*":
            _checked(self.adapter.remove(None, login))
            return None
        job_id = job_id_of(reqid)
        with self.adapter.locked():
            if job_id is None or job_id not in self.adapter.queued_ids():
                raise CommandError(p.ALREADY_EXECUTING)
            _checked(self.adapter.remove([job_id], login))
        return None

    def rearrange(self, login: str, ids: Any) -> None:
        """Put the queue in the given order of request ids."""
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise CommandError("rearrange takes [[reqid, ...]]: the new order of request ids")
        with self.adapter.locked():
            queued = [reqid_of(i) for i in self.adapter.queued_ids()]
            order = nicos_order(ids, queued)
            if order != queued:
                _checked(self.adapter.reorder([int(i) for i in order], login))
        return None

    def update(self, login: str, code: Any, reason: Any, reqid: Any = None) -> None:
        """Replace the text of a queued script (or of the running one)."""
        if not isinstance(code, str):
            raise CommandError("update takes [code, reason, reqid]: the new script text")
        job_id = job_id_of(reqid)
        with self.adapter.locked():  # decide the target; the core re-checks it when editing
            current = self.adapter.current()
            queued = job_id is not None and job_id in self.adapter.queued_ids()
        if not queued:
            if current is None:
                raise CommandError(p.NO_SCRIPT)
            if reqid is not None and job_id != current.job_id:
                raise CommandError(p.NO_SUCH_SCRIPT)
            job_id = current.job_id
        _checked(self.adapter.update_script(job_id, code, login))  # waits for its check
        return None

    # -- script control ------------------------------------------------------------------

    def break_(self, login: str, level: Any) -> None:
        """Pause: levels 1-3 at the next pause point, 5 at once."""
        immediate = _level(level) >= p.BREAK_IMMEDIATE
        with self.adapter.locked():
            if self.adapter.held_idle() is not None:
                raise CommandError(p.ALREADY_PAUSED)  # as the GUI is shown: INBREAK
            state = self._running_state()
            if state == "ABORTING":
                raise CommandError(p.ALREADY_STOPPING)
            if state == "PAUSED":
                raise CommandError(p.ALREADY_PAUSED)
            if state == "PAUSING" and not immediate:
                return None  # NICOS sets the same break again
            _checked(self.adapter.pause(immediate, login))
        return None

    def continue_(self, login: str) -> None:
        """Resume a paused script, or release a held queue while no script runs.

        The GUI is shown a held idle queue as paused (`CoreAdapter.gui_status_code`), so
        its Resume button, which sends `continue` only when paused, lets the queue go on
        (e.g. after a failed script held it, QUEUE:ON_ERROR HOLD).
        """
        with self.adapter.locked():
            if self.adapter.held_idle() is not None:
                failing = self.adapter.held_before_failing_job()
                if failing is not None:  # released, it would hold again at once
                    raise CommandError(f"the queue stays held: {failing}")
                _checked(self.adapter.release_hold(login))
                return None
            state = self._running_state()
            if state == "ABORTING":
                raise CommandError(p.CANNOT_CONTINUE)
            if state != "PAUSED":
                raise CommandError(p.NOT_PAUSED)
            _checked(self.adapter.resume(login))
        return None

    def stop(self, login: str, level: Any) -> None:
        """Empty the queue, then stop the running script (every level aborts it).

        While the queue is held with no script running (shown as paused), it empties the
        queue and leaves the hold as it is, as STOP over Channel Access does.
        """
        _level(level)
        with self.adapter.locked():
            if self.adapter.held_idle() is None:
                self._running_state()
            _checked(self.adapter.stop(login))
        return None

    def _running_state(self) -> str:
        """The run state; raises NICOS's "no script is running" when idle."""
        state = self.adapter.run_state()
        if state == "IDLE":
            raise CommandError(p.NO_SCRIPT)
        return state
