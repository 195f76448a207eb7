"""Console-tool helpers that involve the person at the terminal: `$EDITOR`, `add --wait`.

`edit ID` without a call or file opens the job's text in the user's editor and sends what
they saved; `add --wait` follows the new job to its end and turns its outcome into the exit
code, so shell scripts can chain jobs (`scriptserver add --wait ... && next`).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from .channels import ClientError
from .client import ScriptServerClient
from .formatting import result_line

EXIT_CODES = {"DONE": 0, "FAILED": 1, "ABORTED": 3, "SKIPPED": 3, "INTERRUPTED": 3}
"""Exit code of `add --wait` by how the job ended (1 is also a refused add)."""

WAIT_INTERVAL = 0.2
"""Seconds between looks at the job while waiting for its end."""


def editor_command() -> list[str]:
    """The user's editor: `$VISUAL`, else `$EDITOR`, else notepad (Windows) or vi."""
    chosen = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if chosen:
        return shlex.split(chosen, posix=os.name != "nt")
    return ["notepad"] if os.name == "nt" else ["vi"]


def editable_text(job: dict[str, Any]) -> str:
    """What the user edits: a script job's text, or a command job's call."""
    if job["kind"] == "script":
        return job.get("script") or ""
    if job["kind"] == "command":
        args = ", ".join(f"{k}={v!r}" for k, v in (job.get("args") or {}).items())
        return f"{job['command']}({args})\n"
    raise ClientError(
        f"job {job['id']} runs the server's script file {job.get('file')!r}: edit that file, "
        "or give the job new content (a call, --script FILE or --file NAME)"
    )


def edit_in_editor(job: dict[str, Any]) -> str | None:
    """Open the job's text in the editor; the saved text, or None if it did not change."""
    before = editable_text(job)
    suffix = ".py" if job["kind"] == "script" else ".txt"
    handle, name = tempfile.mkstemp(prefix=f"scriptserver-job-{job['id']}-", suffix=suffix)
    path = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(before)
        command = [*editor_command(), str(path)]
        try:
            code = subprocess.call(command)
        except OSError as exc:
            raise ClientError(
                f"cannot start the editor {command[0]!r} ({exc}); set EDITOR or give --script FILE"
            ) from None
        if code != 0:
            raise ClientError(f"the editor exited with code {code}; job {job['id']} unchanged")
        after = path.read_text(encoding="utf-8")
    finally:
        path.unlink(missing_ok=True)
    return None if after == before else after


def spec_from_edit(job: dict[str, Any], text: str) -> dict[str, Any]:
    """The QUEUE:UPDATE fields for the edited text of `job`."""
    if job["kind"] == "command":
        return {"call": text.strip()}
    return {"script": text}


def wait_for_outcome(client: ScriptServerClient, job_id: int) -> int:
    """Wait until the job has ended; print how it ended; its exit code (Ctrl-C: 130)."""
    print(f"waiting for job {job_id} to end (Ctrl-C stops waiting, not the job) ...", flush=True)
    stop = threading.Event()
    try:
        while True:
            record = client.finished(job_id)
            if record is not None:
                break
            if client.get("CURRENT:ID") != job_id and all(
                job["id"] != job_id for job in client.queue()
            ):
                record = client.finished(job_id)
                if record is not None:
                    break
                raise ClientError(f"job {job_id} was removed from the queue without running")
            stop.wait(WAIT_INTERVAL)
    except KeyboardInterrupt:
        print(f"\nstopped waiting; job {job_id} carries on", file=sys.stderr)
        return 130
    print(result_line(record))
    if record.get("message"):
        print(f"  message: {record['message']}")
    return EXIT_CODES.get(record["state"], 1)
