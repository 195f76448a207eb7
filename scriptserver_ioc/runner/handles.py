"""The launch handle file: how a restarted server finds a job it launched but never heard.

`JobRunner.start` writes the job's handle (pid, creation time, launcher key, ...) to
``<log>.handle.json`` before it tells the process to run the job; core persists the same
handle when the ``started`` event reaches it. If the server dies in between, the store
has only the launch record, and `adopt` reads the handle from this file instead. A job
whose ``run`` was never sent has no file, and never ran. The file goes when the job ends.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from .outcome import read_job_file

log = logging.getLogger(__name__)


def handle_path(log_path: str | Path) -> Path:
    """Where the handle of the job logging to ``log_path`` is kept while it runs."""
    return Path(str(log_path) + ".handle.json")


def write_handle(path: Path, handle: dict[str, Any]) -> bool:
    """Write ``handle`` atomically, readable by the server's user only; False if it failed.

    A failure (e.g. a full disk) is logged and not fatal: the job still runs, and if the
    server dies before storing its ``started`` handle, recovery falls back to the job's
    result file.
    """
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w", encoding="ascii") as f:
            json.dump(handle, f)
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("cannot write the launch handle %s: %s", path, exc)
        temporary.unlink(missing_ok=True)
        return False
    return True


def read_handle(path: Path, job_id: int) -> dict[str, Any] | None:
    """The handle in ``path`` if it is there, readable and job ``job_id``'s, else None."""
    return read_job_file(path, job_id, "launch handle")


def remove_handle(log_path: str | Path | None) -> None:
    """Delete the handle file of a job that has ended (nothing to find any more)."""
    if log_path is not None:
        try:
            handle_path(log_path).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot delete the launch handle of %s: %s", log_path, exc)
