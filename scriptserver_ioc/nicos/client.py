"""A NICOS protocol client that behaves as the IBEX GUI does, for tests and benchmarks.

Reproduces `uk.ac.stfc.isis.ibex.nicos` and the view models of `...ui.nicos.models`
(ibex_gui; docs/nicos.md names the classes): a REQ socket, requests of three frames
`[command, "", json array]`, a 500 ms receive timeout after which the GUI drops the
connection, the handshake `getbanner` (version 23, serializer json) then `authenticate`,
and the status job every second: `getstatus`, then `getmessages` with n = 1, 10, 100,
1000 until the oldest entry returned is not newer than the last one shown. Message times
are rounded to milliseconds as Java's `Math.round` does and only entries newer than the
last one shown are kept (`NicosModel.updateLogEntries`, `filterOld`); the Pause/Resume and
Stop buttons are enabled and send what `ScriptStatusViewModel` sends in each state.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import zmq

from . import protocol as p
from .protocol import gui_millis

RECEIVE_TIMEOUT_MS = 500
STATUS_PERIOD = 1.0
MESSAGES_THRESHOLD = 1000
MESSAGES_SCALE_FACTOR = 10
TOO_MANY = "WARNING: Message volume is too high. Some messages may be ommitted.\n"
"""The GUI's own entry when more than 1,000 messages are new (its spelling)."""
STATUS_TEXTS = {
    p.STATUS_IDLEEXC: "Idle - last script failed",
    p.STATUS_IDLE: "Idle",
    p.STATUS_RUNNING: "Running",
    p.STATUS_INBREAK: "Paused",
    p.STATUS_STOPPING: "Stopping",
}
PAUSE_TEXT = "Pause Script Execution"
RESUME_TEXT = "Resume Script Execution"


def now_millis() -> int:
    """`System.currentTimeMillis()`."""
    return time.time_ns() // 1_000_000


class ScriptStatusView:
    """`ScriptStatusViewModel`: what the GUI shows of a status and what its buttons send."""

    def __init__(self) -> None:
        self.code = p.STATUS_IDLE
        self.buttons_enabled = False
        self.toggle_text = ""
        self.readback = ""
        self.info = ""

    def update(self, status: dict[str, Any]) -> None:
        """Apply one `getstatus` reply as `NicosModel.updateScriptStatus` does."""
        code, line = status["status"]
        self.code = code if code in STATUS_TEXTS else -5  # ScriptStatus.INVALID
        desc = STATUS_TEXTS.get(code, "Invalid")
        self.readback = "Queue status: " + desc
        self.buttons_enabled = True
        if self.code in (p.STATUS_IDLEEXC, p.STATUS_IDLE, p.STATUS_STOPPING):
            self.toggle_text, self.buttons_enabled = PAUSE_TEXT, False
        elif self.code == p.STATUS_RUNNING:
            self.toggle_text = PAUSE_TEXT
        elif self.code == p.STATUS_INBREAK:
            self.toggle_text = RESUME_TEXT
        line_text = f"Executing line {line}" if line > 0 else "Execution finished"
        self.info = f"{line_text} ({desc}) : {status['scriptname']}"

    def toggle(self) -> tuple[Any, ...] | None:
        """The request the Pause/Resume button sends, None if it is disabled or sends none."""
        if not self.buttons_enabled:
            return None
        if self.code == p.STATUS_INBREAK:
            return ("continue",)
        if self.code == p.STATUS_RUNNING:
            return ("break", p.BREAK_AFTER_LINE)
        return None

    def stop(self) -> tuple[Any, ...] | None:
        """The request the "Stop All Scripts and Empty Queue" button sends, None if disabled."""
        return ("stop", p.BREAK_NOW) if self.buttons_enabled else None


class NicosError(Exception):
    """An `error` reply; the message is its payload as the GUI would show it."""


class GuiClient:
    """One GUI connection (`ZMQSession`): every request and reply under one lock.

    Args:
        address: e.g. "tcp://127.0.0.1:1301".
        context: the ZeroMQ context (default: the process's).
        receive_timeout_ms: how long a reply is awaited: the GUI's 500 ms by default; a
            test that checks what the GUI shows, not how soon, waits longer (how soon is
            `bench/bench_nicos.py`'s measure).
    """

    def __init__(
        self,
        address: str,
        context: zmq.Context | None = None,
        receive_timeout_ms: int = RECEIVE_TIMEOUT_MS,
    ) -> None:
        self.address = address
        self.receive_timeout_ms = receive_timeout_ms
        self.context = context or zmq.Context.instance()
        self.lock = threading.Lock()
        self.socket: Any = None
        self.last_entry_ms = now_millis()  # the GUI shows nothing older than its start
        self._open()

    def _open(self) -> None:
        self.socket = self.context.socket(zmq.REQ)
        self.socket.setsockopt(zmq.RCVTIMEO, self.receive_timeout_ms)
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
        """`NicosModel.updateLogEntries`: the entries newer than the last one shown.

        Asks for the last 1, 10, 100, 1000 entries until the oldest returned is not newer
        than the last shown (in whole milliseconds) or the reply stops growing; past 1,000
        it gives up with the GUI's warning entry (as `[None, now, None, text]`).
        """
        count, entries, first = 1, [], 0
        while True:
            if count > MESSAGES_THRESHOLD:
                entries = [*entries, [None, now_millis() / 1000, None, TOO_MANY, None, ""]]
                break
            current = self.request("getmessages", str(count))
            if len(entries) == len(current):
                break
            entries, first = current, gui_millis(current[0][1])
            count *= MESSAGES_SCALE_FACTOR
            if not first > self.last_entry_ms:
                break
        fresh = [entry for entry in entries if gui_millis(entry[1]) > self.last_entry_ms]
        if fresh:
            self.last_entry_ms = gui_millis(fresh[-1][1])
        return fresh


class StatusPoller:
    """The GUI's status job in a thread: every second `getstatus` + `getmessages`.

    Records every round's latency and failure and keeps what the GUI would display: the
    last status, its `view` (status text, buttons) and every message shown (`messages`,
    and `pane`, the output pane's text). `press_toggle` and `press_stop` are its buttons.
    """

    def __init__(self, client: GuiClient, period: float = STATUS_PERIOD) -> None:
        self.client = client
        self.period = period
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.messages: list[list[Any]] = []
        self.pane = ""
        self.view = ScriptStatusView()
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
                    self.view.update(status)
                    self._show(messages)
            self.stopping.wait(max(0.0, self.period - (time.perf_counter() - began)))

    def _show(self, messages: list[list[Any]]) -> None:
        """`OutputLogViewModel.appendLog`: each entry as `HH:mm:ss message` (lock held)."""
        self.messages.extend(messages)
        for entry in messages:
            clock = time.strftime("%H:%M:%S", time.localtime(gui_millis(entry[1]) / 1000))
            self.pane += f"{clock} {entry[3]}"
        self.rounds.notify_all()

    def press_toggle(self) -> bool:
        """Press Pause/Resume as last shown; False if it was disabled or sends nothing."""
        with self.rounds:
            request = self.view.toggle()
        return request is not None and self._instruct(request)

    def press_stop(self) -> bool:
        """Press "Stop All Scripts and Empty Queue"; False if it was disabled."""
        with self.rounds:
            request = self.view.stop()
        return request is not None and self._instruct(request)

    def _instruct(self, request: tuple[Any, ...]) -> bool:
        """`NicosModel.sendExecutionInstruction`: a refusal becomes a local entry.

        The GUI first fetches the new messages, then adds "Error sending <cmd> command:
        <reason>" stamped with its own clock, which becomes the last time shown.
        """
        try:
            self.client.request(*request)
        except (NicosError, TimeoutError) as exc:
            fresh = self.client.new_messages()
            stamp = now_millis()
            local = [None, stamp / 1000, None, f"Error sending {request[0]} command: {exc}\n"]
            self.client.last_entry_ms = stamp
            with self.rounds:
                self._show([*fresh, [*local, None, ""]])
        return True

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
