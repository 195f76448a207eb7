"""The job's log as its stdout and stderr: a full disk loses output, never the job.

Runs inside job processes: standard library only, Python 3.8+.

When the disk is full (or a file-size limit is reached) a write to the log raises
``OSError`` in whatever printed: a user's ``print`` would fail their script, and the
launcher's own report of the result would end the process with exit code 1, so a job that
did its work would be recorded FAILED. ``open_log_streams`` rebuilds ``sys.stdout`` and
``sys.stderr`` as ordinary line-buffered text streams over file descriptors 1 and 2 whose
raw layer drops what the disk refuses and counts it: the job's state is decided by its
script alone, and the loss is reported with its result (``log_error``).
"""

from __future__ import annotations

import errno
import io
import os
import sys

DISK_ERRORS = frozenset(
    code
    for code in (
        errno.ENOSPC,
        errno.EFBIG,
        getattr(errno, "EDQUOT", None),
        errno.EIO,
    )
    if code is not None
)
"""Write errors of a full, limited or failing disk: the output is lost, the job goes on."""


class OutputLosses:
    """What could not be written to the job's log (or its result file), and why."""

    def __init__(self):
        self.lost_bytes = 0
        self.problems = []

    def lost(self, count, exc):
        """Note ``count`` bytes of output dropped because of ``exc``."""
        if self.lost_bytes == 0:
            self.problems.append(f"output lost from the first failed write to its log ({exc})")
        self.lost_bytes += count

    def note(self, problem):
        """Note another failed write (the log's opening, the result file)."""
        self.problems.append(problem)

    def report(self):
        """One line for the server's event log, or None if nothing was lost."""
        if not self.problems:
            return None
        text = "; ".join(self.problems)
        if self.lost_bytes:
            text += f"; {self.lost_bytes} bytes of output were not written"
        return text


class _LogFile(io.RawIOBase):
    """A file descriptor that drops a write the disk refuses (see ``DISK_ERRORS``)."""

    def __init__(self, fd, losses):
        super().__init__()
        self._fd = fd
        self._losses = losses

    def writable(self):
        return True

    def fileno(self):
        return self._fd

    def isatty(self):
        return os.isatty(self._fd)

    def write(self, data):
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):  # all of it, or what is left is lost
            try:
                done += os.write(self._fd, view[done:])
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno not in DISK_ERRORS:
                    raise
                self._losses.lost(len(view) - done, exc)
                break
        return len(view)


def open_log_streams(losses):
    """Make ``sys.stdout`` and ``sys.stderr`` line-buffered, full-disk-safe streams.

    Unbuffered (written through) if they were, as the runner starts jobs
    (``PYTHONUNBUFFERED``: partial lines reach the log at once).

    They are UTF-8 (with backslash escapes for what cannot be encoded), without touching
    the environment: ``PYTHONIOENCODING`` would do it for the interpreter, but libraries
    read that variable as a plain codec name (pyepics: ``LookupError: unknown encoding``).
    An encoding the user chose (``PYTHONIOENCODING``) is kept.
    """
    chosen = bool(os.environ.get("PYTHONIOENCODING"))
    for name, fd in (("stdout", 1), ("stderr", 2)):
        old = getattr(sys, name)
        if old is None:
            continue
        try:
            old.flush()
        except (OSError, ValueError):
            pass
        encoding = (old.encoding if chosen else None) or "utf-8"
        errors = (old.errors if chosen else None) or "backslashreplace"
        unbuffered = bool(getattr(old, "write_through", False))  # PYTHONUNBUFFERED, -u
        raw = _LogFile(fd, losses)
        stream = io.TextIOWrapper(
            raw if unbuffered else io.BufferedWriter(raw),
            encoding=encoding,
            errors=errors,
            line_buffering=True,
            write_through=unbuffered,
        )
        setattr(sys, name, stream)
