"""The server's end of the job-control channel: loopback TCP, one JSON message per line.

Job processes connect to the address recorded in ``<runtime>/channel.json`` and open with
``hello`` carrying the per-server secret (protocol in ``job/_protocol.py``, shared by both
ends). One thread serves every connection with ``selectors``: a connection that has not
sent a complete, valid ``hello`` within ``HELLO_TIMEOUT`` seconds of connecting is closed,
at most ``MAX_PENDING`` such connections are held at once (more are closed on arrival),
and nobody gets a thread of their own.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..contract.protocols import job_channel as protocol

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
ADDRESS_FILE = "channel.json"
MAX_MESSAGE = protocol.MAX_MESSAGE
HELLO_TIMEOUT = protocol.HELLO_TIMEOUT
MAX_PENDING = 32
"""Connections allowed to be waiting for their hello at once."""
SEND_TIMEOUT = 10.0
"""Seconds a send may wait for a job process that does not read."""
PARKED_MESSAGES = 2000
_READ_SIZE = 65536
_WARN_INTERVAL = 10.0

Handler = Callable[[dict[str, Any] | None], None]
"""Receives each message of an attached connection, then None when it closes."""

encode = protocol.encode


class Connection:
    """One authenticated job process's connection.

    Messages received before a handler is attached are kept (the latest
    ``PARKED_MESSAGES``) and replayed to the handler when it attaches, in order.

    Threading: ``send`` may be called from any thread; the handler is called from the
    channel thread (or from ``attach``'s caller for the replay), never concurrently.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._handler: Handler | None = None
        self._parked: collections.deque = collections.deque(maxlen=PARKED_MESSAGES)
        self.hello: dict[str, Any] = {}
        self.closed = threading.Event()

    def send(self, message: dict[str, Any]) -> bool:
        """Send one message; False if the connection is gone."""
        if self.closed.is_set():
            return False
        try:
            with self._send_lock:
                self._sock.sendall(encode(message))
            return True
        except OSError:
            self.close()
            return False

    def attach(self, handler: Handler) -> None:
        """Deliver messages (kept ones first) to ``handler``."""
        with self._lock:
            self._handler = handler
            while self._parked:
                handler(self._parked.popleft())
            if self.closed.is_set():
                handler(None)

    def detach(self) -> None:
        """Stop delivering messages (they are dropped from now on)."""
        with self._lock:
            self._handler = None
            self._parked = collections.deque(maxlen=0)

    def close(self) -> None:
        """End the connection; the channel thread then reports the end to the handler."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _deliver(self, message: dict[str, Any] | None) -> None:
        with self._lock:
            if message is None:
                self.closed.set()
            if self._handler is not None:
                self._handler(message)
            elif message is not None:
                self._parked.append(message)


class _Peer:
    """What the channel thread knows of one socket: its buffer, deadline and connection."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buffer = bytearray()
        self.connection: Connection | None = None


class ChannelServer:
    """Listens on 127.0.0.1 and authenticates job processes, all in one thread.

    Args:
        runtime_dir: where ``channel.json`` (the address) is written.
        secret: what each ``hello`` must carry.
        port: TCP port (0: any free port).
        on_hello: called from the channel thread with an authenticated connection and its
            ``hello``; returns the reply to send (``welcome``: keep the connection; anything
            else, e.g. ``exit``: send it and close) and a callable to run once the reply is
            sent (or None).
    """

    def __init__(
        self,
        runtime_dir: Path,
        secret: str,
        port: int,
        on_hello: Callable[
            [Connection, dict[str, Any]], tuple[dict[str, Any], Callable[[], None] | None]
        ],
    ) -> None:
        self._runtime_dir = runtime_dir
        self._secret = secret.encode("ascii")
        self._on_hello = on_hello
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, port))
        self._listener.listen(64)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._pending: dict[socket.socket, _Peer] = {}
        self._peers: dict[socket.socket, _Peer] = {}
        self._closed = threading.Event()
        self._last_warning = 0.0
        self.refused = 0
        """Connections closed on arrival because MAX_PENDING were already waiting."""
        self.timed_out = 0
        """Connections closed for want of a valid hello within HELLO_TIMEOUT."""
        self.most_pending = 0
        """The most connections ever waiting for their hello at once."""
        self._write_address()
        self._thread = threading.Thread(target=self._run, name="job-channel", daemon=True)
        self._thread.start()

    @property
    def address_file(self) -> Path:
        """``<runtime>/channel.json``."""
        return self._runtime_dir / ADDRESS_FILE

    @property
    def connections(self) -> int:
        """Sockets held now (waiting for hello, or authenticated)."""
        return len(self._peers)

    def _write_address(self) -> None:
        data = json.dumps({"host": HOST, "port": self.port, "pid": os.getpid()})
        temporary = self._runtime_dir / f".{ADDRESS_FILE}.{os.getpid()}.tmp"
        temporary.write_text(data, encoding="utf-8")
        os.replace(temporary, self.address_file)

    def close(self) -> None:
        """Stop listening, close every connection, forget the recorded address."""
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if threading.current_thread() is not self._thread:
            self._thread.join(5)
        try:
            recorded = json.loads(self.address_file.read_text(encoding="utf-8"))
            if recorded.get("port") == self.port and recorded.get("pid") == os.getpid():
                self.address_file.unlink()
        except (OSError, ValueError, AttributeError):
            pass

    # -- the channel thread ------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._closed.is_set():
                for key, _ in self._selector.select(self._timeout()):
                    if key.data == "wake":
                        self._drain_wake()
                    elif key.fileobj is self._listener:
                        self._accept()
                    else:
                        self._readable(self._peers.get(key.fileobj))
                self._expire(time.monotonic())
        except Exception:  # a defect: log it, drop every connection, stop serving
            log.exception("job channel: the channel thread failed")
        finally:
            for peer in list(self._peers.values()):
                self._drop(peer)
            for sock in (self._listener, self._wake_r, self._wake_w):
                sock.close()
            self._selector.close()

    def _timeout(self) -> float:
        if not self._pending:
            return 1.0
        soonest = min(peer.deadline for peer in self._pending.values())
        return max(0.0, min(1.0, soonest - time.monotonic()))

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: try again later
                self._warn(f"cannot accept a connection: {exc}")
                return
            if len(self._pending) >= MAX_PENDING:
                self.refused += 1
                self._warn(f"{MAX_PENDING} connections are waiting for their hello; refused one")
                sock.close()
                continue
            sock.settimeout(SEND_TIMEOUT)
            with contextlib.suppress(OSError):  # control messages must not wait for an ACK
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = _Peer(sock, time.monotonic() + HELLO_TIMEOUT)
            self._pending[sock] = peer
            self._peers[sock] = peer
            self.most_pending = max(self.most_pending, len(self._pending))
            self._selector.register(sock, selectors.EVENT_READ, None)

    def _expire(self, now: float) -> None:
        for peer in [p for p in self._pending.values() if p.deadline <= now]:
            self.timed_out += 1
            self._warn(f"closed a connection without a valid hello within {HELLO_TIMEOUT:g} s")
            self._drop(peer)

    def _readable(self, peer: _Peer | None) -> None:
        if peer is None:
            return
        try:
            data = peer.sock.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError, socket.timeout):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(peer)
            return
        peer.buffer += data
        while peer.sock in self._peers:
            end = peer.buffer.find(b"\n")
            limit = protocol.MAX_HELLO if peer.connection is None else MAX_MESSAGE
            if end < 0:
                if len(peer.buffer) > limit:
                    self._warn(f"a line longer than {limit} bytes; closed the connection")
                    self._drop(peer)
                return
            line = bytes(peer.buffer[:end])
            del peer.buffer[: end + 1]
            if peer.connection is None:
                self._hello(peer, line)
            else:
                message = protocol.decode(line)
                if message is None:
                    log.warning("job process sent a line that is not a JSON object: %.80r", line)
                else:
                    peer.connection._deliver(message)

    def _hello(self, peer: _Peer, line: bytes) -> None:
        hello = protocol.decode(line)
        problem = protocol.hello_problem(hello, self._secret)
        connection = Connection(peer.sock)
        if problem is not None:
            log.warning("job channel: rejected a connection: %s", problem)
            connection.send({"type": protocol.REJECTED, "reason": problem})
            self._drop(peer)
            return
        del self._pending[peer.sock]
        peer.connection = connection
        connection.hello = hello
        reply, after_reply = self._on_hello(connection, hello)
        if not connection.send(reply) or reply.get("type") != protocol.WELCOME:
            self._drop(peer)
            return
        if after_reply is not None:
            after_reply()

    def _drop(self, peer: _Peer) -> None:
        self._pending.pop(peer.sock, None)
        if self._peers.pop(peer.sock, None) is None:
            return
        try:
            self._selector.unregister(peer.sock)
        except (KeyError, ValueError):
            pass
        peer.sock.close()
        if peer.connection is not None:
            peer.connection._deliver(None)

    def _warn(self, text: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= _WARN_INTERVAL:
            self._last_warning = now
            log.warning("job channel: %s", text)
