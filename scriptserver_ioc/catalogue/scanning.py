"""Listing the command directories: the sources and the stat key of each file.

One directory listing and one `stat` per file: the catalogue's check for changes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from scriptserver_ioc.catalogue.packages import is_package, package_files

StatKey = tuple
"""(mtime_ns, size, inode) of a file, or a 1-tuple holding an error message."""


def candidate_file(name: str) -> bool:
    """True for file names the catalogue reads: `*.py` not starting with `_` or `.`."""
    return name.endswith(".py") and not name.startswith(("_", "."))


def module_name(name: str) -> str:
    """The module a job imports for a source: `scans.py` -> scans, `pkg/__init__.py` -> pkg."""
    return name.split("/")[0] if "/" in name else name[: -len(".py")]


def scan_sources(dirs: list[Path]) -> tuple:
    """(dir index, source name, stat key) of every source, then of package files.

    A source is a `*.py` file or a package (`pkg/__init__.py`); the files inside
    packages follow as `(dir index, "+pkg/sub/x.py", key)` so that editing one is seen.
    """
    entries: list[tuple] = []
    deps: list[tuple] = []
    for index, directory in enumerate(dirs):
        try:
            with os.scandir(directory) as it:
                found = sorted(
                    (e.name if not is_package(e) else e.name + "/__init__.py", e)
                    for e in it
                    if candidate_file(e.name) or is_package(e)
                )
        except OSError as err:
            entries.append((index, None, os_message(err, "command directory")))
            continue
        for name, entry in found:
            if name.endswith("/__init__.py"):
                for path in package_files(Path(entry.path)):
                    rel = path.relative_to(directory).as_posix()
                    if rel != name:
                        deps.append((index, "+" + rel, stat_key(path)))
                path = Path(entry.path) / "__init__.py"
            else:
                path = Path(entry.path)
            try:
                st = path.stat()  # follows symbolic links
                if not stat.S_ISREG(st.st_mode):
                    continue
                key: StatKey = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError as err:
                key = (os_message(err, "file"),)
            entries.append((index, name, key))
    return tuple(entries + deps)


def stat_key(path: Path) -> StatKey:
    """The stat key of `path` (an error message if it cannot be read)."""
    try:
        st = path.stat()
    except OSError as err:
        return (os_message(err, "file"),)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def os_message(err: OSError, what: str) -> str:
    """A short message for an OSError about a `what` (file, command directory)."""
    if isinstance(err, FileNotFoundError):
        return f"{what} does not exist"
    if isinstance(err, NotADirectoryError):
        return f"{what} is not a directory"
    if isinstance(err, PermissionError):
        return f"{what} cannot be read: permission denied"
    return f"{what} cannot be read: {err.strerror or err}"
