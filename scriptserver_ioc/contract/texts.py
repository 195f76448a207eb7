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
