"""The job process's end of the job-control channel (loopback TCP, one JSON message a line).

Runs inside job processes: standard library only, Python 3.8+.

The job connects to the address the server records in ``<runtime>/channel.json`` and
authenticates with the secret in ``<runtime>/secret`` (both re-read on every attempt, so a
restarted server is found). Nothing here ever blocks the job's own thread: a sender thread
owns the connection, reconnects with backoff when it drops, and sends the job's state.

State-like reports (current line, progress, message) are kept as the latest value and sent
at most every ``line_interval`` seconds, so a tight loop costs a few messages a second and
the latest value is always delivered. Events (paused, resumed, done, ...) are queued in
order, each preceded by the current state. On every (re)connection the ``hello`` carries
the whole state (phase, line, progress, paused, result), so the server needs no replay.
"""

from __future__ import annotations

import collections
import json
import os
import socket
import sys
import threading
import time

try:  # the server imports the package; a job process has this directory on sys.path
    from . import _protocol as protocol
except ImportError:
    import _protocol as protocol

PROTOCOL = protocol.PROTOCOL_VERSION
MAX_MESSAGE = protocol.MAX_MESSAGE
encode = protocol.encode
_BACKOFF_FIRST = 0.05
_BACKOFF_MAX = 1.0
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
"""A send that never blocks (POSIX); elsewhere urgent events go through the sender thread."""


class Link:
    """Sender and receiver of one job process's channel messages.

    Args:
        runtime_dir: the server's runtime directory (``channel.json``, ``secret``).
        key: the process's identity given by the server at spawn.
        job_id: the job this process runs, or None for a warm spare.
        on_control: called from the receiver thread with each message from the server.
        on_disconnect: called from the receiver thread when the connection drops.
        line_interval: minimum seconds between two state reports.
    """

    def __init__(self, runtime_dir, key, job_id, on_control, on_disconnect, line_interval=0.02):
        self.runtime_dir = str(runtime_dir)
        self.key = key
        self.job_id = job_id
        self.welcomed = threading.Event()
        self.welcome = None
        self._on_control = on_control
        self._on_disconnect = on_disconnect
        self._interval = line_interval
        self._cond = threading.Condition()
        self._fifo = collections.deque()
        self._sock = None
        self._closed = False
        self._state = {"phase": "starting", "paused": False, "result": None}
        self._line = None
        self._line_sent = None
        self._progress = None
        self._progress_sent = None
        self._progress_where = None
        self._text = None
        self._text_sent = None
        self._pending = False
        self._sending = False
        self._unsent = b""
        self._next_report = 0.0
        self._rejected_logged = False
        self._thread = threading.Thread(target=self._run, name="scriptserver-link", daemon=True)

    def start(self) -> None:
        """Start connecting in the background."""
        self._thread.start()

    # -- called by the job's threads -------------------------------------------------------

    def set_line(self, line: int) -> None:
        """The job's code now runs ``line`` (hot path: a few attribute operations)."""
        self._line = line
        if not self._pending:
            self._pending = True
            with self._cond:
                self._cond.notify()

    @property
    def line(self):
        """The last line reported by the tracer, or None."""
        return self._line

    def set_progress(self, percent: float, message: str, scope: str = "job", line=None) -> None:
        """Report progress (coalesced like lines).

        ``scope`` is ``job`` when the job's own code reported it, ``command`` when a command
        did; the job's ``line`` (default: the last one reported) is sent with it.
        """
        with self._cond:
            self._progress = [percent, message]
            self._progress_where = {"scope": scope, "line": self._line if line is None else line}
            self._text = message
            self._pending = True
            self._cond.notify()

    def set_message(self, text: str) -> None:
        """Report a progress message (coalesced like lines)."""
        with self._cond:
            self._text = text
            self._pending = True
            self._cond.notify()

    def update_state(self, **fields) -> None:
        """Change what the next ``hello`` reports (phase, paused, result, job_id, ...)."""
        with self._cond:
            if "job_id" in fields:
                self.job_id = fields.pop("job_id")
            self._state.update(fields)

    def send(self, message: dict) -> None:
        """Queue an event for the server, in order, after the current state."""
        with self._cond:
            self._fifo.append(message)
            self._cond.notify()

    def send_urgent(self, message: dict) -> None:
        """Like `send`, but written from this thread at once when the channel is idle.

        For the events a job's own thread emits at a checkpoint (paused, resumed, done):
        the sender thread may wait for the interpreter lock a busy job thread holds (up to
        the switch interval) before it runs. The write never blocks: what the socket does
        not take at once is left to the sender thread, in order.
        """
        with self._cond:
            sock = self._sock
            if sock is None or self._sending or self._fifo or self._unsent or not _DONTWAIT:
                self._fifo.append(message)
                self._cond.notify()
                return
            data = b"".join(self._state_reports() + [encode(message)])
            try:
                sent = sock.send(data, _DONTWAIT)
            except OSError:  # would block, or the connection dropped: the sender sees it
                sent = 0
            if sent < len(data):
                self._unsent = data[sent:]
                self._cond.notify()

    @property
    def connected(self) -> bool:
        """True while a connection to the server is open."""
        return self._sock is not None

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued has been written to the socket.

        Returns:
            False if that did not happen within ``timeout`` (e.g. not connected).
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while (
                self._fifo or self._unsent or self._pending or self._sending or self._sock is None
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def close(self) -> None:
        """Stop the sender and close the connection."""
        with self._cond:
            self._closed = True
            sock, self._sock = self._sock, None
            self._cond.notify_all()
        if sock is not None:
            _close(sock)

    # -- sender thread ----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = _BACKOFF_FIRST
        while True:
            with self._cond:
                if self._closed:
                    return
                sock = self._sock
            if sock is None:
                if self._connect():
                    backoff = _BACKOFF_FIRST
                    continue
                with self._cond:
                    self._cond.wait(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                continue
            data = self._next_batch(sock)
            if not data:
                continue
            try:
                sock.sendall(data)
            except OSError:
                self._dropped(sock)
            with self._cond:
                self._sending = False
                self._cond.notify_all()

    def _next_batch(self, sock) -> bytes:
        """Wait for something to send on ``sock``; b"" if the connection changed."""
        with self._cond:
            while True:
                if self._closed or self._sock is not sock:
                    return b""
                now = time.monotonic()
                if self._fifo or self._unsent or (self._pending and now >= self._next_report):
                    break
                timeout = self._next_report - now if self._pending else None
                self._cond.wait(timeout)
            parts = [self._unsent] if self._unsent else []
            self._unsent = b""
            parts += self._state_reports()
            while self._fifo:
                parts.append(encode(self._fifo.popleft()))
            self._next_report = time.monotonic() + self._interval
            self._sending = bool(parts)
            return b"".join(parts)

    def _state_reports(self) -> list:
        """Messages for the state that changed since last sent (lock held)."""
        self._pending = False
        parts = []
        if self._line is not None and self._line != self._line_sent:
            self._line_sent = self._line
            parts.append(encode({"type": protocol.LINE, "line": self._line}))
        if self._progress is not None and self._progress != self._progress_sent:
            self._progress_sent = list(self._progress)
            self._text_sent = self._progress[1]
            parts.append(
                encode(
                    {
                        "type": protocol.PROGRESS,
                        "percent": self._progress[0],
                        "message": self._progress[1],
                        **(self._progress_where or {}),
                    }
                )
            )
        if self._text is not None and self._text != self._text_sent:
            self._text_sent = self._text
            parts.append(encode({"type": protocol.MESSAGE, "text": self._text}))
        return parts

    def _connect(self) -> bool:
        try:
            with open(os.path.join(self.runtime_dir, "channel.json"), encoding="utf-8") as f:
                address = json.load(f)
            with open(os.path.join(self.runtime_dir, "secret"), encoding="utf-8") as f:
                secret = f.read().strip()
            sock = socket.create_connection((address["host"], int(address["port"])), timeout=5)
            # small messages go out at once: Nagle's wait for the ACK of the previous
            # report (delayed up to 40 ms) was most of a pause's latency
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, ValueError, KeyError, TypeError):
            return False
        try:
            with self._cond:
                state = dict(self._state)
                state.update(line=self._line, progress=self._progress, message=self._text)
                hello = {
                    "type": protocol.HELLO,
                    "protocol": PROTOCOL,
                    "key": self.key,
                    "pid": os.getpid(),
                    "job_id": self.job_id,
                    "secret": secret,
                    "state": state,
                }
                line_sent, progress_sent, text_sent = self._line, self._progress, self._text
            sock.sendall(encode(hello))
            reader = sock.makefile("rb")
            reply = json.loads(reader.readline(MAX_MESSAGE).decode("utf-8") or "null")
        except (OSError, ValueError):
            _close(sock)
            return False
        kind = reply.get("type") if isinstance(reply, dict) else None
        if kind != protocol.WELCOME:
            _close(sock)
            if kind == protocol.REJECTED and not self._rejected_logged:
                self._rejected_logged = True
                sys.stderr.write(
                    "scriptserver: the server rejected this job process: {}\n".format(
                        reply.get("reason")
                    )
                )
            if kind == protocol.EXIT:
                self._on_control(reply)
            return False
        sock.settimeout(None)
        with self._cond:
            self._sock = sock
            self._fifo.clear()  # the hello carried the state these events described
            self._unsent = b""
            self._line_sent, self._progress_sent, self._text_sent = (
                line_sent,
                progress_sent,
                text_sent,
            )
            self._pending = True
            self._cond.notify_all()
        self.welcome = reply
        self.welcomed.set()
        threading.Thread(
            target=self._receive, args=(sock, reader), name="scriptserver-link-rx", daemon=True
        ).start()
        return True

    def _receive(self, sock, reader) -> None:
        try:
            while True:
                raw = reader.readline(MAX_MESSAGE)
                if not raw:
                    break
                try:
                    message = json.loads(raw.decode("utf-8"))
                except ValueError:
                    continue
                if isinstance(message, dict):
                    self._on_control(message)
        except OSError:
            pass
        self._dropped(sock)
        self._on_disconnect()

    def _dropped(self, sock) -> None:
        with self._cond:
            if self._sock is sock:
                self._sock = None
                self._cond.notify_all()
        _close(sock)


def _close(sock) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
