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
import os

PROTOCOL_VERSION = 1
"""Version spoken by both ends; a ``hello`` without ``protocol`` is taken as version 1."""

MAX_MESSAGE = 16 * 1024 * 1024
"""Longest line either end accepts once a connection is welcomed."""

MAX_HELLO = 1024 * 1024
"""Longest ``hello`` line (it carries the job's state: line, progress, result)."""

HELLO_TIMEOUT = 5.0
"""Seconds from connecting within which a complete, valid ``hello`` must arrive."""

# Message types (the "type" of each message). Never rename one: a job adopted across a
# server restart speaks the protocol of the server that started it.

# opening
HELLO = "hello"  # job -> server: the first message (secret, protocol, key, state)
WELCOME = "welcome"  # server -> job: answer to hello, the connection is kept
EXIT = "exit"  # server -> job: answer to hello, a process nobody needs: end
REJECTED = "rejected"  # server -> job: answer to hello (with a reason), then closed

# job -> server
READY = "ready"  # prelude done (with prelude_error): the process can take a job
RUNNING = "running"  # the job's code starts executing
LINE = "line"  # the current line (state-like: the latest value)
PROGRESS = "progress"  # percent and message (state-like)
MESSAGE = "message"  # the job's status text (state-like)
PAUSED = "paused"  # a deferred pause took effect (with the line)
RESUMED = "resumed"  # the paused job goes on
PLOT = "plot"  # a figure was saved as a PNG file (its path)
ENGINE = "engine"  # a bluesky RunEngine call began or ended (active); also in hello's state
EDIT_RECEIVED = "edit_received"  # the edit is registered (or refused at once; its number)
EDITED = "edited"  # answer to edit: applied or refused (with the edit's number)
DONE = "done"  # the job's result; the process then exits

# server -> job
RUN = "run"  # run this job (a spare or a cold-started process)
PAUSE = "pause"  # pause at the next line or pause point (immediate: a RunEngine's now)
RESUME = "resume"  # resume, or cancel a pause not yet taken
ABORT = "abort"  # soft abort (with a reason)
EDIT = "edit"  # replace the script's part not yet run (answered by edit_received, edited)

# The fork server's pipes (runner/forking.py <-> job/forkserver.py); it also says READY.
FORK = "fork"  # runner -> fork server: fork a launcher process (id, args, log, umask)
FORKED = "forked"  # its answer: the new process's pid
FORK_FAILED = "fork_failed"  # its answer: why it could not fork
EXITED = "exited"  # a process it forked has ended (pid, status)


def plots_dir(log_path: str) -> str:
    """Where a job's figures are saved: ``<logs>/job-<id>.plots`` beside ``job-<id>.log``."""
    return os.path.splitext(str(log_path))[0] + ".plots"


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
