"""A NICOS protocol client that behaves as the IBEX GUI does, for tests and benchmarks.

Reproduces `uk.ac.stfc.isis.ibex.nicos` (ibex_gui, see shared/reference
ibex-gui-nicos-phoebus.md section 2): a REQ socket, requests of three frames
`[command, "", json array]`, a 500 ms receive timeout after which the GUI drops the
connection, the handshake `getbanner` (version 23, serializer json) then `authenticate`,
and the status job: `getstatus`, then `getmessages` with n = 1, 10, 100, 1000 until the
oldest entry returned is not newer than the last one shown.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import zmq

from . import protocol as p

RECEIVE_TIMEOUT_MS = 500
STATUS_PERIOD = 1.0


class NicosError(Exception):
    """An `error` reply; the message is its payload as the GUI would show it."""


class GuiClient:
    """One GUI connection (`ZMQSession`): every request and reply under one lock.

    Args:
        address: e.g. "tcp://127.0.0.1:1301".
    """

    def __init__(self, address: str, context: zmq.Context | None = None) -> None:
        self.address = address
        self.context = context or zmq.Context.instance()
        self.lock = threading.Lock()
        self.socket: Any = None
        self.last_message_time = time.time()
        self._open()

    def _open(self) -> None:
        self.socket = self.context.socket(zmq.REQ)
        self.socket.setsockopt(zmq.RCVTIMEO, RECEIVE_TIMEOUT_MS)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(self.address)

    def close(self) -> None:
        """Close the socket."""
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    def request(self, command: str, *args: Any) -> Any:
        """Send one command and return the decoded `ok` payload.

        Raises:
            NicosError: the reply was `error` (or not three frames).
            TimeoutError: no reply within 500 ms; the socket is reopened, as the GUI
                reconnects.
        """
        frames = self.request_frames(command, *args)
        if len(frames) != 3 or not frames[0] or not frames[2]:
            raise NicosError("No data received from NICOS")
        if frames[1] != b"":  # the GUI ignores it; NICOS always leaves it empty
            raise NicosError(f"the middle reply frame is not empty: {frames[1][:40]!r}")
        if frames[0] != p.OK:
            raise NicosError(frames[2].decode("utf-8", "replace"))
        return json.loads(frames[2])

    def request_frames(self, command: str, *args: Any) -> list[bytes]:
        """Send one command and return the reply frames undecoded.

        Raises:
            TimeoutError: no reply within 500 ms; the socket is reopened, as the GUI
                reconnects.
        """
        with self.lock:
            self.socket.send_multipart([command.encode(), b"", json.dumps(list(args)).encode()])
            try:
                return self.socket.recv_multipart()
            except zmq.Again:
                self.close()
                self._open()
                raise TimeoutError(
                    f"no reply to {command} within {RECEIVE_TIMEOUT_MS} ms"
                ) from None

    def connect(self, login: str, password: str) -> dict[str, Any]:
        """The GUI's handshake; returns the banner.

        Raises:
            NicosError: a wrong banner (the GUI refuses it) or a refused login.
        """
        banner = self.request("getbanner")
        if (
            banner.get("protocol_version") != p.PROTOCOL_VERSION
            or banner.get("serializer") != "json"
        ):
            raise NicosError(f"incompatible banner: {banner}")
        self.request("authenticate", {"login": login, "passwd": password})
        return banner

    def status(self) -> dict[str, Any]:
        """One `getstatus`, checked as `ReceiveScriptStatus` reads it."""
        status = self.request("getstatus")
        if not isinstance(status.get("status"), list) or len(status["status"]) != 2:
            raise NicosError(f"status without [code, line]: {status.get('status')!r}")
        if not isinstance(status.get("requests"), list):
            raise NicosError("requests is not a list")
        return status

    def new_messages(self) -> list[list[Any]]:
        """The GUI's message fetch: grow n until it reaches what was already shown."""
        count, previous = 1, -1
        while True:
            entries = self.request("getmessages", str(count))
            if (
                not entries
                or len(entries) == previous
                or float(entries[0][1]) <= self.last_message_time
                or count >= 1000
            ):
                break
            previous, count = len(entries), count * 10
        fresh = [entry for entry in entries if float(entry[1]) > self.last_message_time]
        if fresh:
            self.last_message_time = float(fresh[-1][1])
        return fresh


class StatusPoller:
    """The GUI's status job in a thread: every second `getstatus` + `getmessages`.

    Records every round's latency and failure and keeps the last status and all messages
    seen, so a test can wait on what a GUI would display.
    """

    def __init__(self, client: GuiClient, period: float = STATUS_PERIOD) -> None:
        self.client = client
        self.period = period
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.messages: list[list[Any]] = []
        self.last_status: dict[str, Any] | None = None
        self.stopping = threading.Event()
        self.rounds = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="gui-status-job", daemon=True)

    def start(self) -> StatusPoller:
        """Start polling."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop polling and wait for the thread."""
        self.stopping.set()
        self.thread.join(5)

    def _run(self) -> None:
        while not self.stopping.is_set():
            began = time.perf_counter()
            try:
                status = self.client.status()
                self.latencies.append(time.perf_counter() - began)
                messages = self.client.new_messages()
            except (NicosError, TimeoutError) as exc:
                self.failures.append(str(exc))
            else:
                with self.rounds:
                    self.last_status = status
                    self.messages.extend(messages)
                    self.rounds.notify_all()
            self.stopping.wait(max(0.0, self.period - (time.perf_counter() - began)))

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until a polled status satisfies `predicate(status, messages)`; return it."""
        deadline = time.monotonic() + timeout
        with self.rounds:
            while True:
                status = self.last_status
                if status is not None and predicate(status, self.messages):
                    return status
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the GUI never saw it; last status {status}")
                self.rounds.wait(left)
