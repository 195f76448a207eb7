"""How a job ended: the ``finished`` event from its report, result file or exit status."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from .process import exit_reason

log = logging.getLogger(__name__)

STATES = ("DONE", "FAILED", "ABORTED", "INTERRUPTED")
MAX_LOG_ERROR = 400
"""Longest ``log_error`` passed on (what of a job's output or result file was lost)."""


def read_job_file(path: Path, job_id: int, what: str) -> dict[str, Any] | None:
    """The JSON object in ``path`` if it is there, readable and job ``job_id``'s, else None.

    Args:
        path: a file a job's launch left (result file, launch handle).
        job_id: the job it must name (``"job_id"``).
        what: what the file is, for the log.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("cannot read the %s %s: %s", what, path, exc)
        return None
    if not isinstance(data, dict) or data.get("job_id") != job_id:
        log.warning("ignoring the %s %s: it is not job %s's", what, path, job_id)
        return None
    return data


def read_result(path: Path | None, job_id: int) -> dict[str, Any] | None:
    """The result a job process wrote to ``path``, if it is there and is this job's."""
    data = read_job_file(path, job_id, "result file") if path is not None else None
    if data is None or data.get("state") not in STATES:
        return None
    return data


def finished_event(
    result: dict[str, Any] | None,
    exit_code: int | None,
    aborting: bool,
    adopted: bool,
    last_line: int | None,
) -> dict[str, Any]:
    """The ``finished`` event for a job whose process is gone.

    Args:
        result: what the job reported (``done`` message or result file), or None.
        exit_code: the process's exit status (negative: signal), None if unknown (adopted).
        aborting: an abort was requested: a failure or a kill counts as ABORTED.
        adopted: the process was not our child, so its exit status is unknown.
        last_line: the job's last reported line, for an error without a traceback.
    """
    if result is not None:
        state = result.get("state", "FAILED")
        if aborting and state == "FAILED":
            state = "ABORTED"
        code = exit_code if exit_code is not None else result.get("exit_code")
        error = result.get("error")
        event = {"type": "finished", "state": state, "error": error, "exit_code": code}
        if isinstance(result.get("log_error"), str):  # output lost, e.g. to a full disk
            event["log_error"] = result["log_error"][:MAX_LOG_ERROR]
        return event
    reason = exit_reason(exit_code)
    if adopted and exit_code is None:
        reason = (
            "ended without reporting a result (it was adopted after a restart, so its "
            "exit status is unknown)"
        )
    if aborting:
        state, message = "ABORTED", f"the job process {reason} while being aborted"
    else:
        state, message = "FAILED", f"the job process {reason}"
    error = {"type": "ProcessExit", "message": message, "line": last_line, "traceback": ""}
    return {"type": "finished", "state": state, "error": error, "exit_code": exit_code}


def interrupted_event(job_id: int, why: str) -> dict[str, Any]:
    """``finished`` INTERRUPTED for a job that cannot be recovered after a restart."""
    message = f"job {job_id} cannot be recovered: {why}"
    return {
        "type": "finished",
        "state": "INTERRUPTED",
        "error": {"type": "Interrupted", "message": message, "line": None, "traceback": ""},
        "exit_code": None,
    }


def launch_failed_event(python: str, exc: BaseException) -> dict[str, Any]:
    """``finished`` FAILED for a job whose process could not be started at all."""
    message = f"cannot start the job process with {python!r}: {exc}"
    error = {"type": "LaunchError", "message": message, "line": None, "traceback": ""}
    return {"type": "finished", "state": "FAILED", "error": error, "exit_code": None}
