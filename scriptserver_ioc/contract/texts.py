"""Texts the server and the clients both show, written once: times of day, pre-flight verdicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def time_of_day(moment: datetime, now: datetime) -> str:
    """``07:40:12``, with ``" +Nd"`` when `moment` falls N days after `now`'s date."""
    days = (moment.date() - now.date()).days
    text = moment.strftime("%H:%M:%S")
    return f"{text} +{days}d" if days > 0 else text


def preflight_text(record: dict[str, Any] | None, width: int | None = None) -> str:
    """A job's pre-flight verdict for a person.

    ``ok``, ``warnings (2)``, ``fails at line 4: NameError: name 'x' is not defined``,
    ``unknown: dry run stopped after 10 s of real time at line 7``, or ``not checked yet``.

    Args:
        record: the job's ``preflight`` record, or None.
        width: the message is its first line, cut to `width` characters (None: whole).
    """
    if not record:
        return "not checked yet"
    verdict = str(record.get("verdict") or "?")
    if verdict == "warnings":
        count = len(record.get("warnings") or [])
        return f"warnings ({count})" if count else "warnings"
    if verdict not in ("fails", "unknown"):
        return verdict
    lines = str(record.get("message") or "").strip().splitlines()
    message = lines[0] if lines else ""
    if width is not None and len(message) > width:
        message = message[: width - 3] + "..."
    where = f" at line {record['line']}" if record.get("line") else ""
    return f"{verdict}{where}: {message}" if message else f"{verdict}{where}"


# Replies that name the control PV to write next. The core names no PV (the edges do);
# these few pointers are part of the contract's texts, so the core says them from here.
ALREADY_PAUSED_HINT = "write RESUME or ABORT"
"""What to do with a job that is already paused."""
DRY_RUN_BUSY = "a dry run is in progress; wait for VALIDATE:RESULT"
"""Why a second dry run is refused while one runs."""


def output_selected(job_id: int, chars: int, size: int) -> str:
    """The reply to a job's output selected: how much of its log is shown."""
    return f"output of job {job_id}: last {chars} of {size} bytes in JOB:OUTPUT"
