"""One job process as the runner sees it: identity, control state, channel, events.

A `JobProcess` is a warm spare (``job_id`` None), the current job, or a job adopted from a
previous server. It turns the job's channel messages into runner events and keeps what it
needs to decide the job's end (the reported result, abort requests, exit status).

Threading: messages arrive on the connection's reader thread; runner methods call
``send_control`` and change the flags under the runner's lock; all state here is guarded
by ``self.lock`` (re-entrant). ``emit`` only queues events (delivered by the dispatcher
thread), so it is safe under any lock. No method here takes the runner's lock.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from ..contract.protocols import job_channel as protocol
from .channel import Connection
from .process import descendants

log = logging.getLogger(__name__)

Sink = Callable[[int, dict[str, Any]], None]


class JobProcess:
    """A launcher process and the state of the job it runs (if any).

    Args:
        key: the random identity passed to the launcher (``--key``), sent back in ``hello``.
        sink: where events go (``EventDispatcher.emit``).
        on_running: called (on a channel thread) when the job's code is about to run.

    Threading: `lock` guards the pause and abort flags (`suspended`, `pause_pending`,
    `paused`, `abort_requested`), the connection and its outbox, and event emission. The
    channel thread changes them under it; the runner takes it inside its own lock
    (runner lock first, then this one), never the other way round.
    """

    def __init__(self, key: str, sink: Sink, on_running: Callable[[JobProcess], None]) -> None:
        self.key = key
        self.lock = threading.RLock()
        self._sink = sink
        self._on_running = on_running
        self.proc: psutil.Process | None = None
        self.popen: subprocess.Popen | None = None
        self.fork_server: Any = None
        """The `forking.ForkServer` that forked this process (it reports its exit status)."""
        self.pid: int | None = None
        self.create_time: float | None = None
        self.pgid: int | None = None
        self.job_id: int | None = None
        self.blackbox = False
        self.log_path: Path | None = None
        self.result_path: Path | None = None
        self.spare_log: Path | None = None
        self.snapshot: dict | None = None
        self.spawned_at = time.monotonic()
        self.conn: Connection | None = None
        self.ever_connected = False
        self.channel_closed = threading.Event()
        self.outbox: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self.prelude_error: dict | None = None
        self.suspended = False
        self.pause_pending = False
        self.paused = False
        self.abort_requested = False
        self.engine_active = False
        """The job is inside a bluesky ``RE(plan)`` call: an immediate pause is the RunEngine's."""
        self.terminate_at: float | None = None
        self.kill_at: float | None = None
        self.result: dict[str, Any] | None = None
        self.done_at: float | None = None
        self.exited = threading.Event()
        self.exit_code: int | None = None
        self.finished = False
        self.never_ran = False
        """Adopted, but it never got its ``run``: told to exit, its end is INTERRUPTED."""
        self.detached = False
        self.wake = threading.Event()
        self.known_children: list[psutil.Process] = []
        self.last_line: int | None = None
        self.last_progress: list | None = None
        self.last_text: str | None = None
        self.monitor: threading.Thread | None = None
        self.tail: Any = None
        self.discarded = False

    # -- identity -------------------------------------------------------------------------

    def bind(self, proc: psutil.Process, popen: subprocess.Popen | None, pgid: int | None) -> None:
        """Attach the OS process."""
        self.proc, self.popen, self.pid, self.pgid = proc, popen, proc.pid, pgid
        self.create_time = proc.create_time()

    @property
    def adopted(self) -> bool:
        """True for a process neither we nor our fork server started (status unknown)."""
        return self.popen is None and self.fork_server is None

    def handle(self, job_python: str) -> dict[str, Any]:
        """What core persists so that a restarted server can ``adopt`` this job."""
        return {
            "pid": self.pid,
            "create_time": self.create_time,
            "key": self.key,
            "pgid": self.pgid,
            "job_id": self.job_id,
            "log_path": str(self.log_path),
            "result_path": str(self.result_path),
            "blackbox": self.blackbox,
            "python": job_python,
            "forked": self.fork_server is not None,
        }

    def remember_children(self) -> None:
        """Note the current descendants, to kill them even after they are re-parented."""
        if self.proc is None:
            return
        current = descendants(self.proc)
        with self.lock:
            pids = {p.pid for p in current}
            self.known_children = current + [p for p in self.known_children if p.pid not in pids]

    # -- events ---------------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        """Queue an event for the job (dropped for spares, after ``finished``, or detached)."""
        with self.lock:
            if self.job_id is None or self.finished or self.detached:
                return
            self._sink(self.job_id, event)

    def emit_last(self, event: dict[str, Any]) -> None:
        """Queue the ``finished`` event; nothing is emitted for this job afterwards."""
        with self.lock:
            self.emit(event)
            self.finished = True

    # -- channel --------------------------------------------------------------------------

    def send_control(self, message: dict[str, Any]) -> None:
        """Send a message to the job now, or as soon as it connects."""
        with self.lock:
            if self.conn is not None and self.conn.send(message):
                return
            self.outbox.append(message)

    def connected(self, conn: Connection, hello: dict[str, Any]) -> None:
        """The job process (re)connected: sync its state and start receiving messages."""
        state = hello.get("state") or {}
        with self.lock:
            old, self.conn = self.conn, conn
            self.ever_connected = True
            self.channel_closed.clear()
            outbox, self.outbox = self.outbox, []
            for message in outbox:
                if not conn.send(message):
                    self.outbox.append(message)
            if state.get("phase") in ("ready", "running", "finished"):
                self.prelude_error = state.get("prelude_error")
                self.ready.set()
            self._sync(state)
        if old is not None and old is not conn:
            old.close()
        conn.attach(lambda message: self._on_message(conn, message))

    def _sync(self, state: dict[str, Any]) -> None:
        """Emit what changed while we were not connected (lock held)."""
        if self.job_id is None:
            return
        self._line(state.get("line"))
        progress = state.get("progress")
        if isinstance(progress, list) and len(progress) == 2 and progress != self.last_progress:
            self.last_progress = progress
            self.last_text = progress[1]
            self.emit({"type": "progress", "percent": progress[0], "message": progress[1]})
        text = state.get("message")
        if isinstance(text, str) and text != self.last_text:
            self.last_text = text
            self.emit({"type": "message", "text": text})
        self.engine_active = bool(state.get("engine"))
        paused = bool(state.get("paused"))
        if paused != self.paused and not self.suspended:
            self.paused = paused
            self.emit(
                {
                    "type": "paused" if paused else "resumed",
                    "line": self.last_line,
                    "immediate": False,
                }
            )
        if isinstance(state.get("result"), dict):
            self._done(state["result"])

    def _line(self, line: Any) -> None:
        if isinstance(line, int) and line != self.last_line:
            self.last_line = line
            self.emit({"type": "line", "line": line})

    def _done(self, result: dict[str, Any]) -> None:
        if self.result is None:
            self.result = result
            self.done_at = time.monotonic()
            self.wake.set()

    def _on_message(self, conn: Connection, message: dict[str, Any] | None) -> None:
        if message is None:
            with self.lock:
                if self.conn is conn:
                    self.conn = None
                    self.channel_closed.set()
            return
        kind = message.get("type")
        running = False
        with self.lock:
            if kind == protocol.LINE:
                self._line(message.get("line"))
            elif kind == protocol.PROGRESS:
                percent, text = message.get("percent"), message.get("message") or ""
                self.last_progress, self.last_text = [percent, text], text
                where = {k: message.get(k) for k in ("scope", "line")}
                self.emit({"type": "progress", "percent": percent, "message": text, **where})
            elif kind == protocol.MESSAGE:
                self.last_text = message.get("text") or ""
                self.emit({"type": "message", "text": self.last_text})
            elif kind == protocol.PAUSED:
                self._line(message.get("line"))
                self.pause_pending, self.paused = False, True
                self.emit({"type": "paused", "line": self.last_line, "immediate": False})
            elif kind == protocol.PLOT:
                self.emit({"type": "plot", "path": str(message.get("path") or "")})
            elif kind == protocol.ENGINE:
                self.engine_active = bool(message.get("active"))
            elif kind == protocol.RESUMED:
                self.paused = False
                self.emit({"type": "resumed", "line": self.last_line, "immediate": False})
            elif kind == protocol.EDIT_RECEIVED:
                self.emit({"type": protocol.EDIT_RECEIVED, "edit": message.get("edit")})
            elif kind == protocol.EDITED:
                self.emit(
                    {k: v for k, v in message.items() if k != "type"} | {"type": protocol.EDITED}
                )
            elif kind == protocol.READY:
                self.prelude_error = message.get("prelude_error")
                self.ready.set()
            elif kind == protocol.RUNNING:
                running = True
            elif kind == protocol.DONE:
                self._done({k: v for k, v in message.items() if k != "type"})
            else:
                log.debug("job process %s sent an unknown message %r", self.pid, kind)
        if running:
            self._on_running(self)
