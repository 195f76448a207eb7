"""A job's result: the ``error`` record of an exception, and the result file.

Runs inside job processes: standard library only, Python 3.8+.
"""

from __future__ import annotations

import json
import os
import sys

import scriptserver

MAX_TRACEBACK = 64 * 1024
JOB_DIR = os.path.dirname(os.path.abspath(__file__))


def error_info(exc, filename, prefix=""):
    """The ``error`` dict of a result: type, message, line in the job's file, traceback."""
    tb = exc.__traceback__
    first, line = None, None
    node = tb
    while node is not None:
        if node.tb_frame.f_code.co_filename == filename:
            first = first or node
            line = node.tb_lineno
        node = node.tb_next
    if isinstance(exc, SyntaxError) and exc.filename == filename:
        line = exc.lineno
    import traceback  # only when something failed: it costs start-up time

    if isinstance(exc, scriptserver.JobAborted):  # where the job was, not how we got there
        # lines looked up for the kept frames only: reading the launcher's own files for
        # frames dropped anyway cost an aborted job milliseconds
        walked = traceback.walk_tb(first or tb)
        frames = traceback.StackSummary.extract(
            ((f, n) for f, n in walked if not _internal(f.f_code.co_filename)), lookup_lines=False
        )
        for frame in frames:
            frame.line  # noqa: B018 - reads the line from linecache now, as extract_tb does
        text = "".join(
            ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
            + traceback.format_exception_only(type(exc), exc)
        )
    else:
        text = "".join(traceback.format_exception(type(exc), exc, first or tb))
    if len(text) > MAX_TRACEBACK:
        text = "...\n" + text[-MAX_TRACEBACK:]
    return {
        "type": type(exc).__name__,
        "message": prefix + str(exc),
        "line": line,
        "traceback": text,
    }


def _internal(filename):
    """True for a frame of the launcher's own modules (not the job's or a command's)."""
    return os.path.dirname(os.path.abspath(filename)) == JOB_DIR


def print_exception():
    """Print the exception being handled to stderr (the job's log)."""
    import traceback

    traceback.print_exc()


def write_atomically(path, data):
    """Write JSON to ``path`` through a temporary file and a rename.

    Returns None, or what went wrong (e.g. a full disk): then nothing is left at ``path``
    or beside it, and the caller reports the result another way.

    Not fsynced: the file is complete or absent whatever process crashes (the rename is
    atomic), which is the durability of the store too (SQLite WAL, ``synchronous=NORMAL``);
    the fsync cost an ending job 0.5 to 10 ms on a busy disk, on the path to its end.
    """
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # private
        with open(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(temporary, path)
    except OSError as exc:
        problem = f"cannot write its result file {path} ({exc})"
        sys.stderr.write(f"scriptserver: {problem}\n")
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return problem
    return None
