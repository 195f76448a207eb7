"""One `describe` of many modules by one checker process, read as its events arrive.

The checker imports the modules with a watchdog (`job/_describe_pool.py`): a module that
blocks at import is noticed within about 50 ms and the others go on in other threads, so
the batch takes about as long as its modules that do not block, however many do. Events:
`started`, `described`, `slow` (still importing after the bound) and `alive` (every 0.5 s).

`DescribeBatch.collect` returns once every module is described or named slow. The
checker's process then stays (`finish_slow`, a thread) until the slow modules are
described too, each within `timeout` of its start, and their descriptions are handed on
late. A checker that falls silent (a module holding the interpreter lock in C code) or
dies is dealt with like one slow or failed module: what it had started is set aside or
failed, what it had not started goes to a fresh process (`leftover`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

from scriptserver_ioc.contract.protocols import checker as ops

logger = logging.getLogger(__name__)

SILENCE = 1.0
"""Seconds of silence, beyond the slow bound, after which the checker is taken as stuck
(it says `alive` every 0.5 s while it imports)."""

QUIET = 0.1
"""Seconds without an event after which the answers so far are handed on (`progress`)."""

PROGRESS_EVERY = 1.0
"""Seconds after which the answers so far are handed on even if events keep coming."""


def failed(items: list[dict], message: str) -> dict[str, dict]:
    """Each item failed with `message`: the checker's failure, not one a job would meet."""
    logger.warning("command modules not checked: %s", message)
    error = {"line": None, "message": message, "structural": False}
    return {i["path"]: {"error": dict(error), "names": {}} for i in items}


def too_long(timeout: float) -> str:
    """The error of a module whose import did not end within `timeout`."""
    return f"importing the module took longer than {timeout:g} s (checker)"


class DescribeBatch:
    """Describe `items` with one started checker `worker` (see the module docstring).

    Attributes (after `collect`):
        answers: `{path: description}`; a module named slow has `{"slow": {"after"}}` and
            no names yet, one that was slow but ended before `collect` returned has
            `{"slow": {"seconds"}}` with its description.
        retry: items whose import failed while other imports were in progress (or outside
            the main thread): a fresh checker should look at each again alone (with
            `again`; without, such a failure is the answer).
        leftover: items the worker never started because it died or fell silent.
    """

    def __init__(
        self, worker, items: list[dict], slow_after: float, timeout: float, again: bool = True
    ) -> None:
        self.worker = worker
        self.again = again
        self.items = {item["path"]: item for item in items}
        self.slow_after = slow_after
        self.timeout = timeout
        self.answers: dict[str, dict] = {}
        self.retry: list[dict] = []
        self.leftover: list[dict] = []
        self._started: dict[str, float] = {}
        self._slow: set[str] = set()  # named slow, not described yet
        self._dead: str | None = None  # why the worker ended, once it has
        self._reported: dict[str, dict] = {}  # answers handed to `progress`
        self._request = {
            "id": 1,
            "op": ops.DESCRIBE,
            "modules": items,
            "stream": True,
            "slow_after": slow_after,
        }

    @property
    def waiting(self) -> bool:
        """True if modules named slow are still importing in the worker."""
        return bool(self._slow)

    def collect(self, progress: Callable[[dict], None] | None = None) -> None:
        """Send the batch and read events until each module is described or named slow.

        `progress(answers)`: called with the answers not handed on yet whenever the
        checker pauses (`QUIET`) or at least every `PROGRESS_EVERY` seconds, and once at
        the end, before this returns, so the modules described so far can be published
        while the others are still importing.
        """
        self.worker.send(self._request)
        pending = set(self.items)
        reported = time.monotonic()
        while pending:
            quiet = progress is not None and self._unreported()
            wait = QUIET if quiet else self.slow_after + SILENCE
            try:
                message = self.worker.receive(time.monotonic() + wait)
            except queue.Empty:
                if quiet:
                    reported = self.report(progress)
                    continue
                self._stuck(pending)
                break
            if message is None:
                self._died(pending)
                break
            path = self._event(message, pending)
            if path is None and message.get("ok") is not None:
                missing = [self.items[p] for p in pending]
                self.answers.update(failed(missing, "the checker did not describe the module"))
                break  # the batch ended (a bad request: nothing more will come)
            if progress is not None and time.monotonic() - reported >= PROGRESS_EVERY:
                reported = self.report(progress)
        if progress is not None:
            self.report(progress)

    def _unreported(self) -> dict[str, dict]:
        return {p: a for p, a in self.answers.items() if self._reported.get(p) is not a}

    def report(self, progress: Callable[[dict], None]) -> float:
        """Hand the answers not handed on yet to `progress`; the time it was done."""
        news = self._unreported()
        if news:
            self._reported.update(news)
            progress(news)
        return time.monotonic()

    def _event(self, message: dict, pending: set) -> str | None:
        """Apply one event; the path it concerns, if any."""
        if "started" in message:
            self._started[str(message["started"])] = time.monotonic()
            return str(message["started"])
        if "slow" in message:
            path = str(message["slow"])
            if path in pending:
                pending.discard(path)
                self._slow.add(path)
                self.answers[path] = {
                    "error": None,
                    "names": {},
                    "slow": {"after": self.slow_after},
                }
            return path
        described = message.get("described")
        if isinstance(described, dict):
            path = str(described.get("path"))
            answer = self._answer(described, message.get("seconds"))
            if path in pending:
                pending.discard(path)
                if answer.pop("retry", False) and self.again:
                    self.retry.append(self.items[path])  # its answer is the fresh look's
                else:
                    self.answers[path] = answer
            elif path in self._slow:  # a slow module that ended before the others
                self._slow.discard(path)
                self.answers[path] = answer
            return path
        return None

    def _answer(self, described: dict, seconds) -> dict:
        answer = dict(described)
        path = str(described.get("path"))
        if path in self._slow or (seconds or 0) >= self.slow_after:
            answer.pop("retry", None)
            answer["slow"] = {"seconds": round(float(seconds or 0), 1)}
        return answer

    def _stuck(self, pending: set) -> None:
        """The worker fell silent: what it started is slow, the rest goes elsewhere."""
        logger.warning("the catalogue's checker fell silent; describing the rest anew")
        for path in pending:
            if path in self._started:
                self._slow.add(path)
                self.answers[path] = {
                    "error": None,
                    "names": {},
                    "slow": {"after": self.slow_after},
                }
            else:
                self.leftover.append(self.items[path])

    def _died(self, pending: set) -> None:
        """The worker ended: what it started failed with why, the rest goes elsewhere."""
        self._dead = "the checker " + self.worker.died_because()
        started = [self.items[p] for p in pending if p in self._started]
        self.answers.update(failed(started, self._dead))
        self.leftover += [self.items[p] for p in pending if p not in self._started]

    def finish_slow(self, on_late: Callable[[str, dict], None], keep: Callable[[], bool]) -> None:
        """In a thread: hand on each slow module's description, then stop the worker.

        A module not described within `timeout` of its start gets that as its error.
        `keep()` False (the checker was closed) stops the worker without handing on more.
        """

        def finish() -> None:
            try:
                self._finish(on_late, keep)
            finally:
                self.worker.stop()

        threading.Thread(target=finish, name="checker-slow-import", daemon=True).start()

    def _finish(self, on_late: Callable[[str, dict], None], keep: Callable[[], bool]) -> None:
        while self._slow and keep():
            if self._dead:
                for path in sorted(self._slow):
                    self._fail_late(on_late, keep, path, self._dead)
                return
            now = time.monotonic()
            start = {p: self._started.get(p, now) for p in self._slow}
            try:
                message = self.worker.receive(min(start.values()) + self.timeout)
            except queue.Empty:
                now = time.monotonic()
                for path in [p for p in self._slow if start[p] + self.timeout <= now]:
                    self._fail_late(on_late, keep, path, too_long(self.timeout))
                continue
            if message is None:
                self._dead = "the checker " + self.worker.died_because()
                continue
            described = message.get("described")
            if isinstance(described, dict) and str(described.get("path")) in self._slow:
                path = str(described["path"])
                self._slow.discard(path)
                self._hand_on(on_late, keep, path, self._answer_late(described, message))

    def _fail_late(self, on_late, keep, path: str, reason: str) -> None:
        self._slow.discard(path)
        late = failed([self.items[path]], reason)[path]
        late["slow"] = {"seconds": round(time.monotonic() - self._started.get(path, 0), 1)}
        self._hand_on(on_late, keep, path, late)

    @staticmethod
    def _answer_late(described: dict, message: dict) -> dict:
        answer = dict(described)
        answer.pop("retry", None)
        answer["slow"] = {"seconds": round(float(message.get("seconds") or 0), 1)}
        return answer

    @staticmethod
    def _hand_on(on_late, keep, path: str, answer: dict) -> None:
        if not keep():
            return
        try:
            on_late(path, answer)
        except Exception:
            logger.exception("applying the late description of %s failed", path)
