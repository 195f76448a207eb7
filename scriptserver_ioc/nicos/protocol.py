"""Wire constants and framing of the NICOS daemon protocol (ZeroMQ transport, JSON serializer).

The facts come from NICOS's own sources (`nicos/protocols/daemon/__init__.py`,
`nicos/protocols/daemon/classic.py`, `nicos/services/daemon/proto/zeromq.py`,
`nicos/services/daemon/handler.py`) and from the IBEX GUI's client
(`uk.ac.stfc.isis.ibex.nicos`), as collected in `shared/reference/ibex-gui-nicos-phoebus.md`
section 2. Nothing here touches a socket: it turns frames into requests and replies into
frames, so it is shared by the bridge and the GUI-like client.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from ..contract.nicos_status import (  # noqa: F401 (NICOS's status codes, shared with STATE:CODE)
    STATUS_IDLE,
    STATUS_IDLEEXC,
    STATUS_INBREAK,
    STATUS_RUNNING,
    STATUS_STOPPING,
)

PROTOCOL_VERSION = 23
"""The version the IBEX GUI accepts (it compares with `==`; NICOS master is at 24)."""

SERIALIZER = "json"
DEFAULT_PORT = 1301

BREAK_AFTER_LINE = 1
BREAK_AFTER_STEP = 2
BREAK_NOW = 3
BREAK_IMMEDIATE = 5

ADMIN = 20
"""NICOS user level of every login this bridge accepts (GUEST 0, USER 10, ADMIN 20)."""

OK = b"ok"
ERROR = b"error"

GUI_COMMANDS = (
    "getbanner",
    "authenticate",
    "getstatus",
    "getmessages",
    "queue",
    "unqueue",
    "rearrange",
    "update",
    "break",
    "continue",
    "stop",
)
"""Every command the IBEX GUI sends (getbanner and authenticate only at connection)."""

MAX_REQUEST_BYTES = 4_000_000
"""Largest request answered; bigger ones get an error (a 256 KiB script escaped fits)."""

MAX_FRAME_BYTES = 16_000_000
"""ZeroMQ drops the connection of a peer sending a bigger frame (protects memory)."""

# The texts NICOS sends; the GUI shows them to the user.
SESSION_EXPIRED = "session expired"
INVALID_CREDENTIALS = "invalid credentials"
NO_LOGIN = "No username, please identify yourself!"
BAD_LOGIN = "Invalid username or password!"
INVALID_ARGUMENTS = "invalid number of arguments"
COMMAND_FAILED = "exception occurred executing command"
NO_SCRIPT = "no script is running"
ALREADY_EXECUTING = "script already executing"
ALREADY_STOPPING = "script is already stopping"
ALREADY_PAUSED = "script is already paused"
NOT_PAUSED = "script is not paused"
CANNOT_CONTINUE = "could not continue script"
NO_SUCH_SCRIPT = "script doesn't exist"
INCONSISTENT_IDS = "Inconsistency between clients script IDs and queued IDs"


class ProtocolError(Exception):
    """A request that cannot be understood; the message is the error reply's text."""


@dataclass
class Request:
    """One decoded client request.

    Attributes:
        client: the ROUTER identity of the client (opaque bytes).
        envelope: the frames to put before the reply (identity and delimiter).
        command: the protocol command name.
        args: the decoded JSON array of arguments.
    """

    client: bytes
    envelope: list[bytes]
    command: str
    args: list[Any]


def split_envelope(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """Split ROUTER frames into the envelope (identity .. empty delimiter) and the body.

    A REQ client sends `[command, "", data]`; the ROUTER sees `[id, "", command, "", data]`.
    Without a delimiter (a DEALER client) the envelope is the identity alone.
    """
    if len(frames) > 1 and frames[1] == b"":
        return frames[:2], frames[2:]
    return frames[:1], frames[1:]


def decode_request(frames: list[bytes]) -> Request:
    """Decode `[id, "", command, "", json-array]` into a `Request`.

    Raises:
        ProtocolError: anything else (the text is sent back as the error reply).
    """
    envelope, body = split_envelope(frames)
    client = frames[0] if frames else b""
    if len(body) != 3 or body[1] != b"":
        raise ProtocolError(
            "malformed request: expected the frames [command, '', json array], "
            f"got {len(body)} frames"
        )
    try:
        command = body[0].decode("ascii")
        text = body[2].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("malformed request: the command or its data is not text") from None
    if not command.isidentifier() or len(command) > 64:
        raise ProtocolError(f"malformed request: {command[:64]!r} is not a command name")
    try:
        args = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError(f"malformed request: the data of {command!r} is not JSON") from None
    if not isinstance(args, list):
        raise ProtocolError(INVALID_ARGUMENTS)
    return Request(client, envelope, command, args)


def ok_frames(envelope: list[bytes], payload: Any) -> list[bytes]:
    """Reply frames of a success: `[*envelope, "ok", "", json(payload)]`."""
    return [*envelope, OK, b"", encode(payload)]


def ok_frames_raw(envelope: list[bytes], payload_json: bytes) -> list[bytes]:
    """Reply frames of a success whose JSON payload is already serialised."""
    return [*envelope, OK, b"", payload_json]


def error_frames(envelope: list[bytes], reason: str, quoted: bool = False) -> list[bytes]:
    """Reply frames of a failure: `[*envelope, "error", "", reason]`.

    NICOS sends the reason as raw text, except "session expired", which it sends as a
    JSON string (`quoted`); the GUI shows the payload as it comes.
    """
    data = json.dumps(reason).encode() if quoted else reason.encode("utf-8")
    return [*envelope, ERROR, b"", data]


def encode(payload: Any) -> bytes:
    """The JSON serializer's encoding (plain `json`, UTF-8)."""
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def banner(daemon_version: str) -> dict[str, Any]:
    """The `getbanner` reply the GUI checks (`protocol_version` 23, `serializer` json).

    `rsakey` is an object, as NICOS's serialised bytes are; `pw_hashing` is plain because
    this bridge offers no RSA encryption of the password.
    """
    return {
        "daemon_version": daemon_version,
        "custom_version": "scriptserver_ioc",
        "nicos_root": "",
        "custom_path": "",
        "pw_hashing": "plain",
        "rsakey": {},
        "protocol_version": PROTOCOL_VERSION,
        "serializer": SERIALIZER,
    }


def message_record(
    logger: str, created: float, level: int, text: str, exc_text: str | None, reqid: str
) -> list[Any]:
    """A `getmessages` entry in NICOS's `recordToMessage` shape (text cut, newline added)."""
    return [logger, created, level, text[:8192] + "\n", exc_text, reqid]


def gui_millis(stamp: Any) -> int:
    """A message time as the IBEX GUI reads it: `Math.round(Double.parseDouble(s) * 1000)`.

    (`ReceiveLogMessage`.) Java rounds half up, where Python's `round` goes to even.
    """
    scaled = float(stamp) * 1000
    whole = math.floor(scaled)
    return whole + 1 if scaled - whole >= 0.5 else whole
