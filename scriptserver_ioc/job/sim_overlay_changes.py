"""What a dry run's overlay does instead of removing, renaming, linking or changing files.

Runs inside dry-run processes only: standard library only, Python 3.8+. A mixin of
``sim_overlay.Overlay``: each replacement acts on the shadow when the path has one, and
for a real file records the effect as withheld (``would remove `old.txt` (line 5)``) and
hides the file from the rest of the dry run.
"""

from __future__ import annotations

import errno
import os
import shutil

import sim_files as files


class OverlayChanges:
    """Replacements of ``os.remove``, ``os.rename``, ``os.mkdir``, ``shutil.rmtree``...."""

    def remove(self, path, *, dir_fd=None):
        """Replacement of ``os.remove`` and ``os.unlink``."""
        real = self.key(path) if dir_fd is None else None
        if real is None:
            return files.REAL["remove"](path, dir_fd=dir_fd)
        shadow = self.shadow(real)
        in_shadow = files.lexists(shadow)
        if not in_shadow and not self.real_visible(real):
            raise files.missing(real)
        if self.is_dir(real):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), real)
        if in_shadow:
            files.REAL["remove"](shadow)
            self.written.pop(real, None)
        if self.real_visible(real):
            self.removed.add(real)
            self.iso.withhold("remove", real, f"remove `{self.iso.shown(real)}`")
        return None

    def rename_function(self, name):
        """A replacement of ``os.rename`` or ``os.replace``."""

        def replacement(src, dst, *, src_dir_fd=None, dst_dir_fd=None):
            fds = src_dir_fd is not None or dst_dir_fd is not None
            source, target = (None, None) if fds else (self.key(src), self.key(dst))
            if source is None and target is None:
                return files.REAL[name](src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
            return self.move(src, source, dst, target)

        replacement.__name__ = name
        return replacement

    def move(self, src, source, dst, target):
        """Rename ``source`` (real) or ``src`` (scratch) to ``target`` or ``dst``."""
        where = src if source is None else self.location(source)
        if not files.lexists(where):
            raise files.missing(src)
        if target is not None:
            to = self.prepare_write(target, False)
            self.written.pop(target, None)
        else:
            to = dst
        if source is not None and where == source:  # a real file: copied, original hidden
            with self.iso.suspended():
                if files.isdir(where):
                    shutil.copytree(where, to, symlinks=True)
                else:
                    shutil.copy2(where, to)
            self.removed.add(source)
            shown = f"rename `{self.iso.shown(source)}` to `{self.iso.shown(dst)}`"
            self.iso.withhold("rename", source, shown)
        else:
            files.REAL["replace"](where, to)
            if target is not None:
                self.written[target] = self.written.pop(source, None) or self.iso.line()
            if source is not None and self.real_visible(source):
                self.removed.add(source)
        return None

    def mkdir(self, path, mode=0o777, *, dir_fd=None):
        """Replacement of ``os.mkdir`` (and so ``os.makedirs``)."""
        real = self.key(path) if dir_fd is None else None
        if real is None:
            return files.REAL["mkdir"](path, mode, dir_fd=dir_fd)
        shadow = self.shadow(real)
        if files.lexists(shadow) or self.real_visible(real):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), real)
        if not self.is_dir(os.path.dirname(real)):
            raise files.missing(real)
        files.REAL["makedirs"](shadow, mode)
        self.removed.discard(real)
        self.iso.withhold("mkdir", real, f"make the directory `{self.iso.shown(real)}`")
        return None

    def rmdir(self, path, *, dir_fd=None):
        """Replacement of ``os.rmdir``."""
        real = self.key(path) if dir_fd is None else None
        if real is None:
            return files.REAL["rmdir"](path, dir_fd=dir_fd)
        if not self.is_dir(real):
            raise (NotADirectoryError if self.real_visible(real) else files.missing)(real)
        if self._merged(real):
            raise OSError(errno.ENOTEMPTY, os.strerror(errno.ENOTEMPTY), real)
        shadow = self.shadow(real)
        if files.lexists(shadow):
            files.REAL["rmdir"](shadow)
        if self.real_visible(real):
            self.removed.add(real)
            shown = f"remove the directory `{self.iso.shown(real)}`"
            self.iso.withhold("rmdir", real, shown)
        return None

    def rmtree(self, path, *args, **kwargs):
        """Replacement of ``shutil.rmtree``."""
        real = self.key(path)
        if real is None or kwargs.get("dir_fd") is not None:
            return files.REAL_RMTREE(path, *args, **kwargs)
        shadow = self.shadow(real)
        if not files.lexists(shadow) and not self.real_visible(real):
            if (args and args[0]) or kwargs.get("ignore_errors"):
                return None
            raise files.missing(real)
        if files.lexists(shadow):
            files.REAL_RMTREE(shadow, ignore_errors=True)
        if self.real_visible(real):
            self.removed.add(real)
            shown = f"remove the directory tree `{self.iso.shown(real)}`"
            self.iso.withhold("rmtree", real, shown)
        return None

    def link_function(self, name):
        """A replacement of ``os.link`` or ``os.symlink``: the link is made in the overlay."""

        def replacement(src, dst, *args, **kwargs):
            target = self.key(dst) if kwargs.get("dst_dir_fd") is None else None
            if target is None:
                return files.REAL[name](src, dst, *args, **kwargs)
            to = self.prepare_write(target, False, exclusive=True)
            self.written.pop(target, None)
            if name == "symlink":
                pointed = os.fspath(src)
                if not os.path.isabs(pointed):
                    pointed = os.path.join(os.path.dirname(target), pointed)
                files.REAL["symlink"](pointed, to)
            else:
                with self.iso.suspended():
                    shutil.copy2(self.location(os.path.abspath(os.fspath(src))), to)
            shown = f"link `{self.iso.shown(target)}` to `{os.fspath(src)}`"
            self.iso.withhold(name, target, shown)
            return None

        replacement.__name__ = name
        return replacement

    def attribute_function(self, name):
        """chmod, utime, chown, xattr...: done to a shadow, recorded for a real file."""

        def replacement(path, *args, **kwargs):
            real = None if kwargs.get("dir_fd") is not None else self.key(path)
            if real is None:
                return files.REAL[name](path, *args, **kwargs)
            where = self.location(real)
            if where != real:
                return files.REAL[name](where, *args, **kwargs)
            if not self.real_visible(real):
                raise files.missing(real)
            shown = f"change {files.ATTRIBUTES[name]} of `{self.iso.shown(real)}`"
            self.iso.withhold(name, real, shown)
            return None

        replacement.__name__ = name
        return replacement

    def truncate(self, path, length):
        """Replacement of ``os.truncate``: a real file is copied up first."""
        real = self.key(path)
        if real is None:
            return files.REAL["truncate"](path, length)
        self.location(real)
        if not files.lexists(self.shadow(real)) and not self.real_visible(real):
            raise files.missing(real)
        return files.REAL["truncate"](self.prepare_write(real, True), length)
