"""The file overlay of a dry run: writes go to a private scratch space, removals are recorded.

Runs inside dry-run processes only (``sim_isolation`` installs it): standard library only,
Python 3.8+, nothing imported from the rest of the package.

A real path ``/data/run/results.csv`` has its *shadow* ``<scratch>/files/_/data/run/
results.csv``. Opening a real file for writing, appending or creating (``open``,
``io.open``, ``os.open``, and what is built on them: ``pathlib``, ``shutil`` copies,
``tempfile``, numpy, matplotlib, pandas, logging...) opens its shadow instead; appending
copies the real content up first. Reading a path that has a shadow reads the shadow (a
script reads back what it wrote); ``os.stat``, ``os.listdir``, ``os.scandir`` and so
``os.path.exists``, ``glob`` and ``os.walk`` see the overlay. Removing, renaming, linking,
changing the mode or times of a real file is recorded and not done: the file looks removed
(renamed) to the rest of the dry run. Real files are never changed.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat as stat_module

import sim_files as files
from sim_overlay_changes import OverlayChanges


class Overlay(OverlayChanges):
    """The overlay's state and the replacements of the file functions.

    Args:
        isolation: the ``sim_isolation.Isolation`` (scratch paths, effects, passthrough).
    """

    def __init__(self, isolation):
        self.iso = isolation
        self.root = os.path.join(isolation.scratch, "files")
        self.removed = set()
        self.written = {}
        """Real path -> line of its first write, for the verdict's summary."""

    # -- paths ---------------------------------------------------------------------------

    def key(self, path):
        """The real absolute path the overlay manages, or None (fd, scratch, device)."""
        if isinstance(path, int) or path is None or self.iso.passthrough():
            return None
        try:
            text = os.fsdecode(os.fspath(path))
        except TypeError:
            return None
        real = os.path.abspath(text)
        if self.iso.in_scratch(real) or real in (os.devnull, "/dev/stdout", "/dev/stderr"):
            return None
        return real

    def shadow(self, real):
        """The shadow path of a real absolute path."""
        drive, rest = os.path.splitdrive(real)
        drive = "".join(c for c in drive if c.isalnum()) or "_"
        return os.path.join(self.root, drive, rest.lstrip("\\/"))

    def is_removed(self, real):
        """True if ``real`` or a directory above it was removed in this dry run."""
        return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in self.removed)

    def shadowed(self, real):
        """True if ``real`` has a shadow."""
        return files.lexists(self.shadow(real)) if self.removed or self.written else False

    def real_visible(self, real):
        """True if the real file exists and was not removed in this dry run."""
        try:
            files.REAL["lstat"](real)
        except OSError:
            return False
        return not self.is_removed(real)

    def location(self, real):
        """Where ``real`` is now: its shadow, itself; FileNotFoundError if removed here."""
        shadow = self.shadow(real)
        if files.lexists(shadow):
            return shadow
        if self.is_removed(real):
            raise files.missing(real)
        return real

    def is_dir(self, real):
        """True if ``real`` is a directory as the dry run sees it."""
        try:
            return stat_module.S_ISDIR(files.REAL["stat"](self.location(real)).st_mode)
        except OSError:
            return False

    def prepare_write(self, real, keep_content, exclusive=False):
        """The shadow to write ``real`` to: parent checked, content copied up if kept."""
        shadow = self.shadow(real)
        exists = files.lexists(shadow) or self.real_visible(real)
        if exclusive and exists:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), real)
        if not files.lexists(shadow):
            if not self.is_dir(os.path.dirname(real)):
                raise files.missing(real)
            files.REAL["makedirs"](os.path.dirname(shadow), exist_ok=True)
            if keep_content and self.real_visible(real) and files.isfile(real):
                with self.iso.suspended():
                    shutil.copyfile(real, shadow)
        self.removed.discard(real)
        self.written.setdefault(real, self.iso.line())
        return shadow

    # -- replacements ----------------------------------------------------------------------

    def open(self, file, mode="r", *args, **kwargs):
        """Replacement of ``open`` and ``io.open``."""
        if kwargs.get("opener") is not None or len(args) >= 6:
            # the opener makes the file (through os.open, replaced too): tempfile, pathlib
            with self.iso.opening():
                return files.REAL_OPEN(file, mode, *args, **kwargs)
        real = self.key(file)
        if real is None:
            return files.REAL_OPEN(file, mode, *args, **kwargs)
        if files.writes(mode):
            keep = "w" not in mode
            target = self.prepare_write(real, keep, exclusive="x" in mode)
        else:
            target = self.location(real)
        return files.REAL_OPEN(target, mode, *args, **kwargs)

    def os_open(self, path, flags, mode=0o777, *, dir_fd=None):
        """Replacement of ``os.open``."""
        real = self.key(path) if dir_fd is None else None
        if real is None:
            return files.REAL["open"](path, flags, mode, dir_fd=dir_fd)
        if flags & files.WRITE_FLAGS:
            exclusive = bool(flags & os.O_EXCL and flags & os.O_CREAT)
            if not flags & os.O_CREAT and not files.lexists(self.shadow(real)):
                self.location(real)  # FileNotFoundError if removed
                if not self.real_visible(real):
                    raise files.missing(real)
            target = self.prepare_write(real, not flags & os.O_TRUNC, exclusive)
        else:
            target = self.location(real)
        return files.REAL["open"](target, flags, mode)

    def stat_function(self, name):
        """A replacement of ``os.stat``, ``os.lstat`` or ``os.access`` that sees the overlay."""

        def replacement(path, *args, **kwargs):
            real = None if kwargs.get("dir_fd") is not None else self.key(path)
            return files.REAL[name](path if real is None else self.location(real), *args, **kwargs)

        replacement.__name__ = name
        return replacement

    def _merged(self, real):
        """``[(name, directory holding it)]`` of a directory as the dry run sees it."""
        found = []
        shadow = self.shadow(real)
        shadow_names = files.REAL["listdir"](shadow) if files.isdir(shadow) else []
        if not self.is_removed(real) and files.isdir(real):
            for name in files.REAL["listdir"](real):
                if name not in shadow_names and not self.is_removed(os.path.join(real, name)):
                    found.append((name, real))
        elif not files.isdir(shadow):
            raise files.missing(real)
        return found + [(name, shadow) for name in shadow_names]

    def listdir(self, path="."):
        """Replacement of ``os.listdir``: real names, less removed ones, plus the shadows."""
        real = self.key(path)
        if real is None:
            return files.REAL["listdir"](path)
        names = [name for name, _ in self._merged(real)]
        return [os.fsencode(n) for n in names] if isinstance(path, bytes) else names

    def scandir(self, path="."):
        """Replacement of ``os.scandir`` (entries of shadows carry their shadow path)."""
        real = self.key(path)
        if real is None:
            return files.REAL["scandir"](path)
        wanted = {}
        for name, where in self._merged(real):
            wanted.setdefault(where, set()).add(name)
        entries = []
        for where, names in wanted.items():
            with files.REAL["scandir"](where) as found:
                entries += [entry for entry in found if entry.name in names]
        return files.Entries(entries)

    def replacements(self):
        """``{os function name: replacement}``, only for functions this platform has."""
        made = {
            "open": self.os_open,
            "stat": self.stat_function("stat"),
            "lstat": self.stat_function("lstat"),
            "access": self.stat_function("access"),
            "listdir": self.listdir,
            "scandir": self.scandir,
            "remove": self.remove,
            "unlink": self.remove,
            "rename": self.rename_function("rename"),
            "replace": self.rename_function("replace"),
            "mkdir": self.mkdir,
            "rmdir": self.rmdir,
            "link": self.link_function("link"),
            "symlink": self.link_function("symlink"),
            "truncate": self.truncate,
        }
        made.update((name, self.attribute_function(name)) for name in files.ATTRIBUTES)
        return {name: f for name, f in made.items() if name in files.REAL}
