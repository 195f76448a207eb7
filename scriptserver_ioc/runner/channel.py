"""The server's end of the job-control channel: loopback TCP, one JSON message per line.

Job processes connect to the address recorded in ``<runtime>/channel.json`` and open with
``hello`` carrying the per-server secret; a connection without it is rejected and closed.
The protocol (both directions) is described in docs/runner.md.
"""

from __future__ import annotations

import collections
import hmac
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
ADDRESS_FILE = "channel.json"
MAX_MESSAGE = 16 * 1024 * 1024
HELLO_TIMEOUT = 5.0
PARKED_MESSAGES = 2000

Handler = Callable[[dict[str, Any] | None], None]
"""Receives each message of an attached connection, then None when it closes."""


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of JSON."""
    return (json.dumps(message, separators=(",", ":")) + "\n").encode("ascii")


class Connection:
    """One authenticated job process's connection.

    Messages received before a handler is attached are kept (the latest
    ``PARKED_MESSAGES``) and replayed to the handler when it attaches, in order.

    Threading: ``send`` may be called from any thread; the handler is called from the
    connection's reader thread (or from ``attach``'s caller for the replay), never
    concurrently.
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
        """Close the socket; the reader thread then reports the end."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._sock.close()
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


class ChannelServer:
    """Listens on 127.0.0.1 and authenticates job processes.

    Args:
        runtime_dir: where ``channel.json`` (the address) is written.
        secret: what each ``hello`` must carry.
        port: TCP port (0: any free port).
        on_hello: called from the connection's reader thread with an authenticated
            connection and its ``hello``; returns the reply to send (``welcome``: keep the
            connection; anything else, e.g. ``exit``: send it and close) and a callable to
            run once the reply is sent (or None).
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
        self.port: int = self._listener.getsockname()[1]
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._write_address()
        self._thread = threading.Thread(target=self._accept, name="channel-accept", daemon=True)
        self._thread.start()

    @property
    def address_file(self) -> Path:
        """``<runtime>/channel.json``."""
        return self._runtime_dir / ADDRESS_FILE

    def _write_address(self) -> None:
        data = json.dumps({"host": HOST, "port": self.port, "pid": os.getpid()})
        temporary = self._runtime_dir / f".{ADDRESS_FILE}.{os.getpid()}.tmp"
        temporary.write_text(data, encoding="utf-8")
        os.replace(temporary, self.address_file)

    def close(self) -> None:
        """Stop listening, close every connection, forget the recorded address."""
        with self._lock:
            self._closed = True
            connections = list(self._connections)
        try:
            self._listener.close()
        except OSError:
            pass
        for connection in connections:
            connection.close()
        try:
            recorded = json.loads(self.address_file.read_text(encoding="utf-8"))
            if recorded.get("port") == self.port and recorded.get("pid") == os.getpid():
                self.address_file.unlink()
        except (OSError, ValueError, AttributeError):
            pass

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(
                target=self._serve, args=(sock,), name="channel-conn", daemon=True
            ).start()

    def _serve(self, sock: socket.socket) -> None:
        connection = Connection(sock)
        with self._lock:
            if self._closed:
                connection.close()
                return
            self._connections.add(connection)
        try:
            sock.settimeout(HELLO_TIMEOUT)
            reader = sock.makefile("rb")
            hello = self._read_hello(connection, reader)
            if hello is None:
                return
            connection.hello = hello
            reply, after_reply = self._on_hello(connection, hello)
            if not connection.send(reply) or reply.get("type") != "welcome":
                return
            sock.settimeout(None)
            if after_reply is not None:
                after_reply()
            while True:
                raw = reader.readline(MAX_MESSAGE)
                if not raw:
                    break
                try:
                    message = json.loads(raw.decode("utf-8"))
                except ValueError:
                    log.warning("job process sent a line that is not JSON: %.80r", raw)
                    continue
                if isinstance(message, dict):
                    connection._deliver(message)
        except OSError:
            pass
        finally:
            connection.close()
            connection._deliver(None)
            with self._lock:
                self._connections.discard(connection)

    def _read_hello(self, connection: Connection, reader: Any) -> dict[str, Any] | None:
        try:
            hello = json.loads(reader.readline(MAX_MESSAGE).decode("utf-8") or "null")
        except (OSError, ValueError):
            hello = None
        secret = hello.get("secret") if isinstance(hello, dict) else None
        if (
            not isinstance(hello, dict)
            or hello.get("type") != "hello"
            or not isinstance(secret, str)
            or not hmac.compare_digest(secret.encode("utf-8"), self._secret)
        ):
            log.warning("job channel: rejected a connection without a valid hello and secret")
            connection.send(
                {
                    "type": "rejected",
                    "reason": "hello with the server's secret expected as the first message",
                }
            )
            return None
        return hello
