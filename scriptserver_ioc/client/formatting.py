"""Text a person reads: durations, job results, failures, group progress."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from ..contract import tags
from ..contract.texts import time_of_day


def duration(value: float | None) -> str:
    """Seconds as `4.2 s`, `m:ss` or `h:mm:ss`; `?` when unknown (None or negative)."""
    if value is None or value < 0:
        return "?"
    if value < 10:
        return f"{value:.1f} s"
    minutes, seconds = divmod(int(round(value)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def clock(moment: float) -> str:
    """A time of day (local) for an epoch time, with `+Nd` on a later day."""
    return time_of_day(_dt.datetime.fromtimestamp(moment), _dt.datetime.now())


def failure(error: dict[str, Any] | None) -> str:
    """`ZeroDivisionError at line 2: division by zero`, or '' when there is no error."""
    if not error:
        return ""
    message = (error.get("message") or "").strip().splitlines()
    first = message[0] if message else ""
    where = f" at line {error['line']}" if error.get("line") else ""
    if where and where in first:  # "aborted by alice at line 4" says it already
        where = ""
    return f"{error.get('type') or 'Error'}{where}: {first}".rstrip(": ")


def result_line(job: dict[str, Any]) -> str:
    """One line on how a finished job ended: id, name, state, time taken, error."""
    took = f" after {duration(job.get('elapsed'))}" if job.get("elapsed") is not None else ""
    text = f"job {job['id']} {job['name']!r}: {job['state']}{took}"
    error = failure(job.get("error"))
    return f"{text} - {error}" if error else text


def group_text(job: dict[str, Any]) -> str:
    """`T scan 3 of 10` for a job of a generated batch (tags group/index/count), else ''."""
    return tags.place_text(job.get("tags"))


def source_line(source: str, line: int | None) -> str:
    """The text of line `line` (1-based) of `source`, stripped; '' when out of range."""
    lines = source.splitlines()
    return lines[line - 1].strip() if line and 0 < line <= len(lines) else ""


def beam_text(beam: dict[str, Any] | None) -> str:
    """`40 µA (ISIS default), 10 Hz (option)`: the beam a dry-run estimate assumed."""
    if not beam:
        return ""
    parts = []
    for name, unit in (("current", "µA"), ("frame_rate", "Hz"), ("event_rate", "Mevents/h")):
        used = beam.get(name)
        if isinstance(used, dict) and used.get("value") is not None:
            parts.append(f"{used['value']:g} {unit} ({used.get('source', '?')})")
    return ", ".join(parts)
