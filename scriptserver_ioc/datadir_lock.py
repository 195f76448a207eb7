"""One server per data directory: a lock file held for the server's whole life.

The lock is an operating-system lock on `<data-dir>/server.lock` (`fcntl.flock` on POSIX,
`msvcrt.locking` on Windows), so the OS releases it when the process ends however it ends:
a crashed server never leaves a stale lock behind. The file also records who holds it
(pid, host, prefix, port, start time) so that a refused second server can name the first.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

LOCK_FILE = "server.lock"
"""Name of the lock file inside the data directory."""

_WINDOWS_LOCK_OFFSET = 1 << 20
"""Windows locks are mandatory: lock a byte past the recorded text so it stays readable."""


class DataDirInUse(Exception):
    """Another running server holds the data directory; the message names it."""


class DataDirLock:
    """The held lock of one data directory; `release()` (or process exit) frees it.

    Use `DataDirLock.acquire(data_dir, prefix=..., port=...)`.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path, **holder: Any) -> DataDirLock:
        """Lock `data_dir` for this process and record `holder` (e.g. prefix, port).

        Raises:
            DataDirInUse: another process holds the lock (the message names it).
            OSError: the lock file cannot be created.
        """
        path = Path(data_dir) / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not _try_lock(fd):
                raise DataDirInUse(
                    f"the data directory {data_dir} is in use by another script server "
                    f"({describe_holder(_read_holder(fd))}); stop it first or use another "
                    "--data-dir"
                )
            record = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                **holder,
            }
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, (json.dumps(record) + "\n").encode("utf-8"))
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    def release(self) -> None:
        """Unlock and close the file (it stays, so the next holder reuses it)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        _unlock(fd)
        os.close(fd)

    @property
    def held(self) -> bool:
        """True until `release()`."""
        return self._fd is not None


def describe_holder(record: dict[str, Any] | None) -> str:
    """`pid 123 on host, prefix P, port N, since T` from a lock record (or what is known)."""
    if not record:
        return "its details are not recorded yet"
    parts = [f"pid {record.get('pid', '?')} on {record.get('host', '?')}"]
    if record.get("prefix"):
        parts.append(f"prefix {record['prefix']}")
    if record.get("port"):
        parts.append(f"port {record['port']}")
    if record.get("started"):
        parts.append(f"since {record['started']}")
    return ", ".join(parts)


def _read_holder(fd: int) -> dict[str, Any] | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 4096).decode("utf-8", "replace")
        record = json.loads(text.splitlines()[0]) if text.strip() else None
    except (OSError, ValueError, IndexError):
        return None
    return record if isinstance(record, dict) else None


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
