"""The job-control channel protocol, shared by both ends (standard library only, 3.8+).

Loopback TCP, one JSON object per line (ASCII). The job process opens with ``hello``
carrying the server's secret and ``protocol``; the server answers ``welcome`` (keep the
connection), ``exit`` (a process nobody needs: end) or ``rejected`` (with a ``reason``) and
closes. The server imports this module as ``scriptserver_ioc.job._protocol``, job
processes as ``_protocol`` (their directory is on ``sys.path``).
"""

from __future__ import annotations

import hmac
import json

PROTOCOL_VERSION = 1
"""Version spoken by both ends; a ``hello`` without ``protocol`` is taken as version 1."""

MAX_MESSAGE = 16 * 1024 * 1024
"""Longest line either end accepts once a connection is welcomed."""

MAX_HELLO = 1024 * 1024
"""Longest ``hello`` line (it carries the job's state: line, progress, result)."""

HELLO_TIMEOUT = 5.0
"""Seconds from connecting within which a complete, valid ``hello`` must arrive."""

# opening (job -> server, then the server's answer)
HELLO = "hello"
WELCOME = "welcome"
EXIT = "exit"
REJECTED = "rejected"

# job -> server
READY = "ready"
STARTED = "started"
LINE = "line"
PROGRESS = "progress"
MESSAGE = "message"
PAUSED = "paused"
RESUMED = "resumed"
OUTPUT = "output"
FINISHED = "finished"
DONE = "done"

# server -> job
RUN = "run"
PAUSE = "pause"
RESUME = "resume"
ABORT = "abort"


def encode(message: dict) -> bytes:
    """One message as a line of JSON (ASCII, so it never holds a raw newline)."""
    return (json.dumps(message, separators=(",", ":")) + "\n").encode("ascii")


def decode(line: bytes) -> dict | None:
    """A received line as a message, or None if it is not a strict JSON object."""
    try:
        message = json.loads(line.decode("utf-8"), parse_constant=_refuse)
    except (ValueError, RecursionError):
        return None
    return message if isinstance(message, dict) else None


def _refuse(name: str) -> None:
    raise ValueError(name)


def hello_problem(hello: dict | None, secret: bytes) -> str | None:
    """Why an opening message is not an acceptable ``hello``, or None if it is."""
    if not isinstance(hello, dict) or hello.get("type") != HELLO:
        return "a hello with the server's secret is expected as the first message"
    given = hello.get("secret")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode("utf-8"), secret):
        return "the hello does not carry the server's secret"
    version = hello.get("protocol", 1)
    if version != PROTOCOL_VERSION:
        return f"protocol {version!r:.20} is not spoken here (the server speaks {PROTOCOL_VERSION})"
    return None
