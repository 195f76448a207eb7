"""The ZeroMQ front end: a ROUTER socket speaking the NICOS daemon protocol to IBEX GUIs.

Threads (none of them is the Channel Access thread):

* router: owns the ROUTER socket. It decodes requests, keeps the sessions (banner, login),
  answers `getbanner`, `authenticate`, `getstatus` and `getmessages` at once from
  ready-made bytes, and hands the commands that change something to the worker.
* worker: runs those commands against the core one at a time, in arrival order, and
  sends each reply back to the router through an in-process socket. If the core has not
  answered within `REPLY_DEADLINE` the router replies `ok` for it (NICOS also replies
  before a queued script runs), so the GUI never waits more than 500 ms; a refusal that
  arrives later is added to the messages.
* snapshot: rebuilds the `getstatus` reply after each change of the core.
* output: follows the jobs' output files into the messages, in order with the server's
  log records (`output.OutputTailer`).

The GUI shows nothing of a refused `queue`, `unqueue`, `rearrange` or `update` but
"Failed to send script" (or nothing): their refusals are also added to the messages, so
its output pane says why. It shows refusals of `break`, `continue` and `stop` itself.
"""

from __future__ import annotations

import collections
import itertools
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import zmq

from . import protocol as p
from .adapter import CoreAdapter
from .commands import CommandError, Commands
from .credentials import Credentials
from .messages import LogForwarder, MessageLog
from .output import OutputTailer
from .snapshot import StatusSnapshot

log = logging.getLogger(__name__)

REPLY_DEADLINE = 0.35
"""Seconds after which a command the core has not yet answered is answered `ok`.

The GUI gives up after 500 ms; the rest is for the network and a busy machine (at 0.45 s
a loaded test machine missed the GUI's limit)."""
SESSION_IDLE_SECONDS = 3600.0
"""A session without commands for this long is forgotten (as NICOS drops its handler)."""
MAX_SESSIONS = 20_000
MAX_WAITING = 1_000
"""Commands waiting for the worker; more get an error (a client flooding the bridge)."""
WORKER_COMMANDS = frozenset(
    ("queue", "unqueue", "rearrange", "update", "break", "continue", "stop")
)
SILENT_IN_GUI = frozenset(("queue", "unqueue", "rearrange", "update"))
"""Commands whose refusal the GUI does not show: the reason goes into the messages."""
REPLY_ADDRESS = "inproc://nicos-bridge-replies-{}"


class BridgeError(Exception):
    """The bridge cannot start (e.g. its port is taken); the message is one line."""


@dataclass
class Session:
    """One client connection: after `getbanner`, then logged in."""

    login: str | None = None
    last_seen: float = field(default_factory=time.monotonic)


class NicosBridge:
    """Serves the NICOS daemon protocol on `tcp://<bind>:<port>`.

    Args:
        core: the `ScriptServer` (reached only through `CoreAdapter`).
        credentials: the logins accepted.
        bind: the address to bind (default loopback, as ISIS binds NICOS).
        port: the TCP port (ISIS uses 1301).
    """

    def __init__(self, core: Any, credentials: Credentials, bind: str, port: int) -> None:
        self.adapter = CoreAdapter(core)
        self.credentials = credentials
        self.messages = MessageLog()
        self.tailer = OutputTailer(self.adapter, self.messages)
        self.forwarder = LogForwarder(self.tailer.submit)
        self.snapshot = StatusSnapshot(self.adapter, self._say)
        self.commands = Commands(self.adapter)
        self.sessions: collections.OrderedDict[bytes, Session] = collections.OrderedDict()
        self.banner = p.encode(p.banner(f"scriptserver_ioc {self.adapter.version}"))
        self.work: queue.Queue[Any] = queue.Queue(MAX_WAITING)
        self.pending: dict[bytes, tuple[list[bytes], float, str]] = {}
        self.tokens = itertools.count(1)
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.context = zmq.Context()
        self.reply_address = REPLY_ADDRESS.format(id(self))
        self.sock = self.context.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, p.MAX_FRAME_BYTES)
        self.address = f"tcp://{bind}:{port}"
        try:
            self.sock.bind(self.address)
        except zmq.ZMQError as exc:
            self.sock.close()
            self.context.term()
            raise BridgeError(f"the NICOS bridge cannot listen on {self.address}: {exc}") from None
        self.replies = self.context.socket(zmq.PULL)
        self.replies.bind(self.reply_address)

    # -- life ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the threads and forward the server's log into the messages."""
        logging.getLogger("scriptserver_ioc").addHandler(self.forwarder)
        for name, target in (
            ("nicos-router", self._route),
            ("nicos-worker", self._work),
            ("nicos-snapshot", self.snapshot.run),
            ("nicos-output", self.tailer.run),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self.threads.append(thread)
        log.info("NICOS bridge listening on %s", self.address)

    def stop(self) -> None:
        """Stop the threads and close the sockets."""
        logging.getLogger("scriptserver_ioc").removeHandler(self.forwarder)
        self.stopping.set()
        self.snapshot.stop()
        self.tailer.stop()
        try:
            self.work.put_nowait(None)
        except queue.Full:
            pass
        for thread in self.threads:
            thread.join(5)
        busy = [thread.name for thread in self.threads if thread.is_alive()]
        if busy:  # e.g. the worker waits for a decision; its socket stays open until exit
            log.warning("NICOS bridge threads still busy at shutdown: %s", ", ".join(busy))
        else:
            self.context.term()

    # -- router thread -------------------------------------------------------------------

    def _route(self) -> None:
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        poller.register(self.replies, zmq.POLLIN)
        next_sweep = time.monotonic() + 60
        try:
            while not self.stopping.is_set():
                events = dict(poller.poll(self._poll_ms()))
                if self.replies in events:
                    self._forward_replies()
                if self.sock in events:
                    for _ in range(100):
                        try:
                            frames = self.sock.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        self._serve(frames)
                self._expire()
                if time.monotonic() > next_sweep:
                    self._sweep_sessions()
                    next_sweep = time.monotonic() + 60
        finally:
            self.sock.close()
            self.replies.close()

    def _poll_ms(self) -> int:
        if not self.pending:
            return 200
        soonest = min(deadline for _, deadline, _ in self.pending.values())
        return max(0, min(200, int((soonest - time.monotonic()) * 1000) + 1))

    def _send(self, frames: list[bytes]) -> None:
        try:
            self.sock.send_multipart(frames, zmq.NOBLOCK)
        except zmq.ZMQError:  # the client is gone or not reading: drop, as ROUTER does
            pass

    def _serve(self, frames: list[bytes]) -> None:
        envelope, _ = p.split_envelope(frames)
        size = sum(len(frame) for frame in frames)
        if size > p.MAX_REQUEST_BYTES:
            self._send(
                p.error_frames(
                    envelope,
                    f"request too large: {size} bytes; at most {p.MAX_REQUEST_BYTES} are accepted",
                )
            )
            return
        try:
            request = p.decode_request(frames)
        except p.ProtocolError as exc:
            self._send(p.error_frames(envelope, str(exc)))
            return
        try:
            self._dispatch(request)
        except Exception:
            log.exception("NICOS command %s failed", request.command)
            self._send(p.error_frames(request.envelope, p.COMMAND_FAILED))

    def _dispatch(self, request: p.Request) -> None:
        command, envelope = request.command, request.envelope
        if command == "getbanner":
            self._new_session(request.client)
            self._send(p.ok_frames_raw(envelope, self.banner))
            return
        session = self.sessions.get(request.client)
        if session is None:
            self._send(p.error_frames(envelope, p.SESSION_EXPIRED, quoted=True))
            return
        session.last_seen = time.monotonic()
        self.sessions.move_to_end(request.client)
        if session.login is None:
            self._authenticate(request)
        elif command == "getstatus":
            self._send(p.ok_frames_raw(envelope, self.snapshot.payload()))
        elif command == "getmessages":
            self._send(self._messages(request))
        elif command in WORKER_COMMANDS:
            self._hand_to_worker(request, session.login)
        else:
            self._send(p.error_frames(envelope, f"unknown command: {command}"))

    def _new_session(self, client: bytes) -> None:
        self.sessions.pop(client, None)
        self.sessions[client] = Session()
        while len(self.sessions) > MAX_SESSIONS:
            self.sessions.popitem(last=False)

    def _authenticate(self, request: p.Request) -> None:
        """The message after the banner must be a good `authenticate`; else the session ends."""
        args, envelope = request.args, request.envelope
        if (
            request.command != "authenticate"
            or len(args) != 1
            or not isinstance(args[0], dict)
            or not isinstance(args[0].get("login"), str)
            or not isinstance(args[0].get("passwd"), str)
        ):
            self.sessions.pop(request.client, None)
            self._send(p.error_frames(envelope, p.INVALID_CREDENTIALS))
            return
        login = args[0]["login"].strip()
        if not login:
            self.sessions.pop(request.client, None)
            self._send(p.error_frames(envelope, p.NO_LOGIN))
            return
        if not self.credentials.check(login, args[0]["passwd"]):
            self.sessions.pop(request.client, None)
            log.warning("NICOS login %r refused", login[:64])
            self._send(p.error_frames(envelope, p.BAD_LOGIN))
            return
        self.sessions[request.client].login = login
        self._send(p.ok_frames(envelope, {"user_level": p.ADMIN}))

    def _messages(self, request: p.Request) -> list[bytes]:
        if len(request.args) != 1:
            return p.error_frames(request.envelope, p.INVALID_ARGUMENTS)
        count = request.args[0]
        if count == "*":
            return p.ok_frames_raw(request.envelope, self.messages.last(None))
        try:
            number = int(count)
        except (TypeError, ValueError, OverflowError):
            return p.error_frames(request.envelope, p.COMMAND_FAILED)
        return p.ok_frames_raw(request.envelope, self.messages.last(number))

    def _hand_to_worker(self, request: p.Request, login: str) -> None:
        token = str(next(self.tokens)).encode()
        try:
            self.work.put_nowait((token, request, login))
        except queue.Full:
            self._send(p.error_frames(request.envelope, "the server is busy; try again"))
            return
        self.pending[token] = (request.envelope, time.monotonic() + REPLY_DEADLINE, request.command)

    def _forward_replies(self) -> None:
        while True:
            try:
                token, command, *frames = self.replies.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if self.pending.pop(token, None) is not None:
                self._send(frames)
            elif frames[-3] == p.ERROR and command.decode() not in SILENT_IN_GUI:
                # answered ok at the deadline, then refused (silent ones are in already)
                text = frames[-1].decode("utf-8", "replace")
                self._say(f"request refused after its reply: {text}", logging.ERROR)

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, (_, deadline, _) in self.pending.items() if deadline <= now]:
            envelope, _, command = self.pending.pop(token)
            log.warning("NICOS %s not answered by the core within %.2f s", command, REPLY_DEADLINE)
            self._send(p.ok_frames(envelope, None))

    def _sweep_sessions(self) -> None:
        limit = time.monotonic() - SESSION_IDLE_SECONDS
        for client in [c for c, s in self.sessions.items() if s.last_seen < limit]:
            del self.sessions[client]

    # -- worker thread -------------------------------------------------------------------

    def _work(self) -> None:
        sender = self.context.socket(zmq.PUSH)
        sender.setsockopt(zmq.LINGER, 0)
        sender.connect(self.reply_address)
        try:
            while True:
                item = self.work.get()
                if item is None or self.stopping.is_set():
                    return
                token, request, login = item
                frames = self._execute(request, login)
                sender.send_multipart([token, request.command.encode(), *frames])
        finally:
            sender.close()

    def _execute(self, request: p.Request, login: str) -> list[bytes]:
        try:
            payload = self.commands.run(request.command, request.args, login)
            frames = p.ok_frames(request.envelope, payload)
        except CommandError as exc:
            frames = p.error_frames(request.envelope, str(exc))
            if request.command in SILENT_IN_GUI:
                self._say(refusal_text(request, str(exc)), logging.ERROR)
        except Exception:
            log.exception("NICOS command %s failed", request.command)
            frames = p.error_frames(request.envelope, p.COMMAND_FAILED)
        self.snapshot.refresh()  # the next getstatus shows what this command did
        return frames

    def _say(self, text: str, level: int = logging.WARNING) -> None:
        """Add a message of the bridge's own, after the log records logged before it."""
        self.tailer.submit({"text": text, "logger": "nicos-bridge", "level": level})


def refusal_text(request: p.Request, reason: str) -> str:
    """What the output pane says of a refused command the GUI does not report itself."""
    args = request.args
    if request.command == "queue":
        name = args[0] if args and isinstance(args[0], str) and args[0] else "(no name)"
        return f"Script {name[:200]!r} was not queued: {reason}"
    if request.command == "update":
        return f"Script {str(args[2] if len(args) > 2 else '')[:40]} was not updated: {reason}"
    if request.command == "unqueue":
        return f"Script {str(args[0] if args else '')[:40]} was not dequeued: {reason}"
    return f"The queue was not reordered: {reason}"
