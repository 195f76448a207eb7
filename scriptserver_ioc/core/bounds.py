"""Checks of numbers and records at the boundaries.

What a client writes, what a companion or a job reports, what the store hands back at start-up.

No value that passes these checks can stop the server later (a time it cannot format, a
number CA cannot carry, a record it cannot rebuild).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from typing import Any

from ..contract import limits
from ..contract.enums import JobState
from .jobs import Job

JOB_KINDS = ("command", "script", "file")


class BadRecord(ValueError):
    """A stored row that cannot be served; the message says which field and why."""


def finite(value: Any) -> bool:
    """True for an int or a finite float (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


def bounded_estimate(seconds: Any) -> tuple[float | None, str | None]:
    """An estimate kept as is, or None with the reason it was dropped.

    Returns:
        ``(seconds or None, warning or None)``.
    """
    if seconds is None:
        return None, None
    if not finite(seconds) or seconds < 0:
        return None, f"the estimate {seconds!r:.40} is not a duration; treated as unknown"
    if seconds > limits.MAX_ESTIMATE_SECONDS:
        return None, (
            f"the estimate of {seconds:.3g} s is longer than {limits.MAX_ESTIMATE_SECONDS:.0f} s "
            "(MAX_ESTIMATE_SECONDS, 366 days); treated as unknown"
        )
    return float(seconds), None


def strict_json_loads(text: str) -> Any:
    """`json.loads` that refuses NaN, Infinity, overflowing floats and huge integers.

    Raises:
        ValueError: the text is not strict JSON within the bounds (message says why).
    """
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_float, parse_int=_int)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; only finite numbers are accepted")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range (not a finite double)")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or abs(int(text)) > limits.MAX_JSON_INTEGER:
        raise ValueError(
            f"the integer {text[:40]}{'...' if len(text) > 40 else ''} is out of range "
            f"(at most {limits.MAX_JSON_INTEGER} in magnitude)"
        )
    return int(text)


_NUMBER_FIELDS = {
    "exit_code": (-(2**31), 2**31 - 1),
    "rerun_of": (1, limits.MAX_JOB_ID),
}
_SOFT_NUMBERS = {
    "estimate": (0.0, limits.MAX_ESTIMATE_SECONDS),
    "elapsed": (0.0, 1e10),
    "progress": (0.0, 100.0),
    "line": (0, 2**31 - 1),
}
"""Fields that only inform: an out-of-range value is repaired to null, not quarantined."""
_TEXT_FIELDS = ("name", "kind", "created", "estimate_source", "message")
_OPTIONAL_TEXT = ("command", "script", "file", "request_id")
_TIMES = ("created", "started", "finished")


def job_from_row(row_id: Any, text: str) -> tuple[Job, list[str]]:
    """Rebuild a stored job record, checking every field the server later relies on.

    Returns:
        The job and what was repaired (an informative number out of range set to null).

    Raises:
        BadRecord: the row cannot be served (the message names the field).
    """
    try:
        record = strict_json_loads(text)
    except (ValueError, RecursionError, TypeError) as exc:
        raise BadRecord(f"the record is not strict JSON ({exc})") from None
    if not isinstance(record, dict):
        raise BadRecord("the record is not a JSON object")
    job_id = record.get("id")
    if isinstance(job_id, bool) or not isinstance(job_id, int) or job_id != row_id:
        raise BadRecord(f"the record's id {job_id!r:.40} does not match the row id {row_id!r}")
    if not 0 < job_id <= limits.MAX_JOB_ID:
        raise BadRecord(f"the id {job_id} is out of range")
    if record.get("state", "QUEUED") not in JobState.__members__:
        raise BadRecord(f"unknown state {record.get('state')!r:.40}")
    if record.get("kind") not in JOB_KINDS:
        raise BadRecord(f"unknown kind {record.get('kind')!r:.40}")
    for key in _TEXT_FIELDS:
        if key in record and not isinstance(record[key], str):
            raise BadRecord(f"{key!r} is not text")
    for key in _OPTIONAL_TEXT:
        if record.get(key) is not None and not isinstance(record[key], str):
            raise BadRecord(f"{key!r} is not text")
    for key, (low, high) in _NUMBER_FIELDS.items():
        value = record.get(key)
        if value is not None and (not finite(value) or not low <= value <= high):
            raise BadRecord(f"{key!r} = {value!r:.40} is outside {low}..{high}")
    repairs = []
    for key, (low, high) in _SOFT_NUMBERS.items():
        value = record.get(key)
        if value is not None and (not finite(value) or not low <= value <= high):
            repairs.append(f"{key!r} = {value!r:.40} was outside {low:g}..{high:g}; set to null")
            record[key] = None
    for key in _TIMES:
        value = record.get(key)
        if value is not None:
            try:
                _dt.datetime.fromisoformat(value).timestamp()
            except (TypeError, ValueError, OverflowError, OSError):
                raise BadRecord(f"{key!r} = {value!r:.40} is not an ISO 8601 time") from None
    for key, kind in (("tags", dict), ("warnings", list)):
        if key in record and not isinstance(record[key], kind):
            raise BadRecord(f"{key!r} is not a JSON {kind.__name__}")
    for key in ("args", "error"):
        if record.get(key) is not None and not isinstance(record[key], dict):
            raise BadRecord(f"{key!r} is not a JSON object")
    if record.get("preflight") is not None and not isinstance(record["preflight"], dict):
        repairs.append("'preflight' was not a JSON object; set to null (it is checked again)")
        record["preflight"] = None
    if not isinstance(record.get("blackbox", False), bool):
        raise BadRecord("'blackbox' is not true or false")
    try:
        return Job.from_dict(record), repairs
    except (TypeError, ValueError) as exc:
        raise BadRecord(f"the record cannot be rebuilt ({exc})") from None


def check_json_numbers(value: Any) -> None:
    """Refuse non-finite floats and integers beyond MAX_JSON_INTEGER anywhere in `value`.

    Raises:
        ValueError: naming the number.
    """
    strict_json_loads(json.dumps(value))
