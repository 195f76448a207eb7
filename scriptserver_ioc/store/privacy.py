"""Who may read the data directory: the server's user, and a configured group, only.

On POSIX the directory tree is made owner-only at start-up (directories 0700, files 0600),
or owner plus group when ``--data-group`` names one (directories 2750 so new files take the
group, files 0640), and the server's umask is narrowed to match so that every file it
creates afterwards (database, WAL, runtime files, job logs) is born private. Job processes
run with the umask the server was started with: their own files are the user's business.

On Windows POSIX modes do not exist: files inherit the ACL of the folder they are created
in, so the data directory must be placed in a folder that only the IOC's account (and the
group) may read; the server changes nothing there.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

POSIX = os.name == "posix"
_original_umask: int | None = None


class AccessError(ValueError):
    """The data directory cannot be made private (reported as a configuration error)."""


def modes(with_group: bool) -> tuple[int, int, int]:
    """(directory mode, file mode, umask) for owner-only or owner-plus-group access."""
    if with_group:
        return 0o2750, 0o640, 0o027
    return 0o700, 0o600, 0o077


def restrict(data_dir: Path, group: str | None = None) -> None:
    """Make the data directory and everything in it private; narrow the umask (POSIX).

    Raises:
        AccessError: the group does not exist, or the directory cannot be restricted.
    """
    if not POSIX:
        return
    gid = _group_id(group) if group else None
    dir_mode, file_mode, umask = modes(gid is not None)
    global _original_umask
    previous = os.umask(umask)
    if _original_umask is None:
        _original_umask = previous
    try:
        _apply(data_dir, dir_mode, gid)
    except OSError as exc:
        raise AccessError(f"cannot restrict access to {data_dir}: {exc.strerror}") from None
    for root, dirs, files in os.walk(data_dir):
        for name, mode in [(d, dir_mode) for d in dirs] + [(f, file_mode) for f in files]:
            try:
                _apply(Path(root) / name, mode, gid)
            except OSError as exc:  # e.g. a file of another user: say so, go on
                log.warning("cannot restrict access to %s: %s", Path(root) / name, exc.strerror)


def job_umask() -> int | None:
    """The umask the server was started with, for job processes (None before `restrict`)."""
    return _original_umask


def _apply(path: Path, mode: int, gid: int | None) -> None:
    if path.is_symlink():
        return
    if gid is not None:
        os.chown(path, -1, gid)
    os.chmod(path, mode if path.is_dir() else mode & 0o777)


def _group_id(group: str) -> int:
    import grp

    try:
        return grp.getgrgid(int(group)).gr_gid if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        raise AccessError(f"the data group {group!r} does not exist") from None
