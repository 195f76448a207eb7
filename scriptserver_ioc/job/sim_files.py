"""Low-level helpers of a dry run's file overlay: the real file functions, kept.

Runs inside dry-run processes only: standard library only, Python 3.8+. Imported before
``sim_isolation`` replaces anything, so ``REAL`` holds the functions that act for real.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import stat as stat_module

REAL = {
    name: getattr(os, name)
    for name in (
        "open",
        "stat",
        "lstat",
        "listdir",
        "scandir",
        "remove",
        "unlink",
        "rename",
        "replace",
        "mkdir",
        "makedirs",
        "rmdir",
        "link",
        "symlink",
        "chmod",
        "lchmod",
        "chown",
        "lchown",
        "utime",
        "truncate",
        "access",
        "setxattr",
        "removexattr",
        "chflags",
        "lchflags",
    )
    if hasattr(os, name)
}
REAL_OPEN = io.open
REAL_RMTREE = shutil.rmtree
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
ATTRIBUTES = {  # os function -> what it would have changed
    "chmod": "the mode",
    "lchmod": "the mode",
    "chown": "the owner",
    "lchown": "the owner",
    "utime": "the times",
    "setxattr": "the extended attributes",
    "removexattr": "the extended attributes",
    "chflags": "the flags",
    "lchflags": "the flags",
}


def writes(mode):
    """True if an ``open`` mode writes, appends or creates."""
    return isinstance(mode, str) and any(c in mode for c in "wax+")


def lexists(path):
    """``os.path.lexists`` with the real functions."""
    try:
        REAL["lstat"](path)
    except (OSError, ValueError):
        return False
    return True


def _stat_is(path, test):
    try:
        return test(REAL["stat"](path).st_mode)
    except (OSError, ValueError):
        return False


def isdir(path):
    """``os.path.isdir`` with the real functions."""
    return _stat_is(path, stat_module.S_ISDIR)


def isfile(path):
    """``os.path.isfile`` with the real functions."""
    return _stat_is(path, stat_module.S_ISREG)


def missing(path):
    """The FileNotFoundError a real file function raises for ``path``."""
    return FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), os.fspath(path))


class Entries:
    """``os.scandir`` of a merged directory (an iterator and a context manager)."""

    def __init__(self, entries):
        self._entries = iter(entries)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._entries)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Forget the remaining entries."""
        self._entries = iter(())
