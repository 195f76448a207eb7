"""How a job ended on request (aborted, skipped, stopped): the reason and the error record.

Pure functions, no I/O. An ended job's record is the same every time for the same request:
whatever the job process happened to report (a ``JobAborted`` from a pause point, from an
interrupted call, from SIGTERM after the grace period, or nothing at all because it was
killed) the error says who ended it, how, and at which line of the job's code if known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REPORTED_ABORTS = ("JobAborted", "ProcessExit")
"""Error types a job reports for the abort itself (anything else happened while unwinding)."""


@dataclass(frozen=True)
class Ending:
    """A request to end the running job.

    Attributes:
        verb: ``aborted``, ``skipped`` or ``stopped``.
        who: the client that asked, ``user@host``.
        kill: True when the process tree was killed rather than unwound.
    """

    verb: str
    who: str
    kill: bool = False

    @property
    def reason(self) -> str:
        """What the job's ``JobAborted`` says, e.g. ``skipped by alice@ndxlarmor``."""
        return f"{self.verb} by {self.who or 'someone'}"

    @property
    def error_type(self) -> str:
        """``JobSkipped`` for a skip, else ``JobAborted``."""
        return "JobSkipped" if self.verb == "skipped" else "JobAborted"


def ended_error(
    ending: Ending, reported: dict[str, Any] | None, blackbox: bool, last_line: int | None
) -> dict[str, Any]:
    """The ``error`` of a job ended by ``ending``.

    Args:
        ending: who ended it and how.
        reported: the error the job process reported, or None.
        blackbox: the job is black-box: its line is unknown and its traceback is not shown.
        last_line: the last line the job reported running.

    Returns:
        ``{"type", "message", "line", "traceback"}``. The line is where the job was when
        the abort reached it (traced jobs only). An error other than the abort itself
        (e.g. a ``finally:`` block that failed) is kept and named in the message.
    """
    reported = reported or {}
    own_failure = reported.get("type") not in (None, *REPORTED_ABORTS)
    line = None
    if not blackbox:
        line = reported.get("line") if reported.get("type") == "JobAborted" else None
        line = line or last_line
    message = ending.reason + (" (killed)" if ending.kill else "")
    message += f" at line {line}" if line else ""
    traceback = ""
    if own_failure:
        message += f"; while ending: {reported.get('type')}: {reported.get('message')}"
        traceback = reported.get("traceback") or ""
    elif not blackbox and reported.get("type") == "JobAborted":
        traceback = reported.get("traceback") or ""
    return {
        "type": reported.get("type") if own_failure else ending.error_type,
        "message": message,
        "line": line,
        "traceback": traceback,
    }
