"""Isolation of a dry run from the world: files, programs, the network.

Runs inside dry-run processes only (``simulate.py``, ``checker.py``), never in a real job:
standard library only, Python 3.8+, nothing imported from the rest of the package. Install
it before any user or instrument code is imported, so code that imported ``os.remove`` or
``open`` under another name gets the replacements too.

Two layers (and ``sim_network`` for C network clients, Kafka, whose sockets it cannot see):
- Replacements of the Python-level file functions (``sim_overlay``): writes go to a private
  scratch overlay the dry run reads back; removals, renames, links, mode and time changes of
  real files are recorded as *withheld effects* and not done.
- A PEP 578 audit hook (``sys.addaudithook``), the backstop: it cannot redirect, only
  refuse. Programs (``subprocess``, ``os.system``, ``os.exec*``, ``os.spawn*``,
  ``os.posix_spawn``, ``os.startfile``, ``os.fork``, ``multiprocessing``), network traffic
  (sockets, HTTP, mail; the Python sockets of the CA/PVA client libraries excepted, whose
  *writes* ``sim_patches`` intercepts), signals to other processes and any file write that
  slipped past the replacements end the dry run: ``DryRunHalted`` is raised where it
  happens, with a reason naming the line (``line 12 runs a program (`reduce.exe`); not
  checked past it``), and the verdict is ``unknown``, never ``fails``. While a module is
  being imported the same effects are refused with ``PermissionError`` instead, which
  libraries handle (a font cache that cannot ask ``fc-list``), and noted.
"""

from __future__ import annotations

import builtins
import contextlib
import contextvars
import functools
import io
import os
import pathlib  # imported before the replacements: 3.8-3.10 keep what they see
import shlex
import shutil
import sys
import tempfile
import threading

import import_hooks
import sim_files
import sim_network
import sim_overlay

HALT = "DryRunHalted"
"""The ``error`` type of a dry run ended by an effect it could not contain."""

CA_LIBRARIES = ("caproto", "p4p", "pvaccess", "pvapy", "aioca", "epics", "epicscorelibs")
"""Packages whose own Python sockets may talk: Channel Access and PV Access reads."""

MAX_WITHHELD = 200

_CA_TRAFFIC = contextvars.ContextVar("scriptserver_ca_traffic", default=False)
"""True in asyncio tasks a CA/PVA library started (their stacks may not show the library)."""


def ca_traffic(coroutine_function):
    """Wrap a CA library's coroutine function: the sockets of the tasks it starts may talk."""

    @functools.wraps(coroutine_function)
    async def marked(*args, **kwargs):
        token = _CA_TRAFFIC.set(True)
        try:
            return await coroutine_function(*args, **kwargs)
        finally:
            _CA_TRAFFIC.reset(token)

    return marked


class DryRunHalted(BaseException):
    """Raised where a dry run meets an effect it cannot contain; it ends the dry run.

    A ``BaseException`` (like ``KeyboardInterrupt``): ``except Exception:`` in a script does
    not swallow it, and the dry run reports it even if a bare ``except:`` does.
    """

    def __init__(self, reason, line=None):
        super().__init__(reason)
        self.reason = reason
        self.line = line


class Isolation:
    """What one dry-run process is kept from doing, and what it was kept from.

    Args:
        scratch: a directory of the dry run's own (the overlay and ``tempfile``'s files).
        job_files: file names of the job's own code: effects are located at its lines.
        line_of: fallback for the line when no frame of the job's code is on the stack.
        on_halt: called with the halt record the first time the dry run is halted.
        subject: who acts, in a reason without a line (``the job runs a program ...``).
    """

    def __init__(self, scratch, job_files=(), line_of=None, on_halt=None, subject="the job"):
        self.subject = subject
        self.scratch = os.path.abspath(scratch)
        self._prefixes = tuple(
            {os.path.join(p, "") for p in (self.scratch, os.path.realpath(self.scratch))}
        )
        self.job_files = set(job_files)
        self.line_of = line_of or (lambda: None)
        self.on_halt = on_halt
        self.effects = []
        self._effect_keys = set()
        self.halted = None
        self.refused = []
        self.overlay = sim_overlay.Overlay(self)
        self._local = threading.local()
        self.installed = False

    # -- state used by the overlay ---------------------------------------------------------

    def passthrough(self):
        """True while the isolation's own work (or a command marked safe) runs."""
        return getattr(self._local, "depth", 0) > 0

    @contextlib.contextmanager
    def suspended(self):
        """Let this thread act for real for a while (copy-ups, commands marked safe)."""
        self._local.depth = getattr(self._local, "depth", 0) + 1
        try:
            yield
        finally:
            self._local.depth -= 1

    @contextlib.contextmanager
    def opening(self):
        """``io.open`` with an opener: its own ``open`` event is not the write."""
        self._local.opener = True
        try:
            yield
        finally:
            self._local.opener = False

    def with_opener(self):
        """True while this thread is inside ``open`` with an opener."""
        return getattr(self._local, "opener", False)

    def in_scratch(self, path):
        """True for a path inside the scratch space (the dry run's own)."""
        return os.path.join(path, "").startswith(self._prefixes)

    def line(self):
        """The line of the job's own code on this thread's stack (innermost), else a guess."""
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename in self.job_files:
                return frame.f_lineno
            frame = frame.f_back
        return self.line_of()

    @staticmethod
    def shown(path):
        """A path as the user wrote it, near enough: relative to the working directory."""
        try:
            relative = os.path.relpath(path)
        except ValueError:  # another drive
            return path
        return path if relative.startswith("..") else relative

    def withhold(self, effect, path, text):
        """Record an effect that was not done: ``would remove `old.txt` (line 5)``."""
        line = self.line()
        key = (effect, path, line)
        if key in self._effect_keys or len(self.effects) >= MAX_WITHHELD:
            return
        self._effect_keys.add(key)
        where = f" (line {line})" if line else ""
        self.effects.append({"effect": effect, "path": path, "line": line, "text": text + where})

    def withheld(self):
        """The texts of what the dry run did not do, the scratch writes summed up last."""
        texts = ["would " + e["text"] for e in self.effects]
        written = [p for p in self.overlay.written if os.path.isfile(self.overlay.shadow(p))]
        if written:
            names = ", ".join(f"`{self.shown(p)}`" for p in written[:5])
            more = f" and {len(written) - 5} more" if len(written) > 5 else ""
            plural = "s" if len(written) > 1 else ""
            texts.append(f"wrote {len(written)} file{plural} to its scratch space ({names}{more})")
        return texts

    # -- halting ---------------------------------------------------------------------------

    def halt(self, what):
        """End the dry run here because it ``what`` (``runs a program (`x`)``)."""
        if self.passthrough():
            return
        if _importing():
            self.refused.append(f"refused while importing a module: it {what}")
            raise PermissionError(f"not allowed in a dry run: {what}")
        line = self.line()
        place = f"line {line} " if line else (self.subject + " " if self.subject else "")
        reason = f"{place}{what}; not checked past it"
        if self.halted is None:
            self.halted = {"type": HALT, "message": reason, "line": line, "traceback": ""}
            if self.on_halt is not None:
                self.on_halt(self.halted)
        raise DryRunHalted(reason, line)

    def _audit(self, event, args):
        handler = _AUDITED.get(event)
        if handler is not None and not self.passthrough():
            handler(self, args)

    # -- installing ------------------------------------------------------------------------

    def install(self):
        """Replace the file functions, hook ``multiprocessing`` and Kafka, add the audit hook."""
        if self.installed:
            return
        self.installed = True
        tmp = os.path.join(self.scratch, "tmp")
        os.makedirs(tmp, exist_ok=True)
        tempfile.tempdir = tmp
        sys.dont_write_bytecode = True  # bytecode caches are written past the replacements
        overlay = self.overlay
        builtins.open = io.open = overlay.open
        replaced = {id(sim_files.REAL_OPEN): overlay.open}
        for name, replacement in overlay.replacements().items():
            replaced[id(getattr(os, name))] = replacement
            setattr(os, name, replacement)
        shutil.rmtree = overlay.rmtree
        _patch_old_pathlib(replaced)
        import_hooks.hook_imports({"multiprocessing.process": self._patch_multiprocessing})
        if "multiprocessing.process" in sys.modules:
            self._patch_multiprocessing(sys.modules["multiprocessing.process"])
        sim_network.install(self)  # C clients (Kafka) whose sockets no audit event shows
        sys.addaudithook(self._audit)

    def _patch_multiprocessing(self, module):
        def start(process_self):
            self.halt(f"starts a process (multiprocessing: {process_self.name})")

        module.BaseProcess.start = start


def remove_scratch(isolation):
    """Remove the scratch space (of a dry run or checker that made its own) for real.

    The isolation is suspended for it: ``rmtree`` removes directories by ``dir_fd``, which
    the isolation refuses as a change it cannot redirect, so the space was left behind.
    """
    with isolation.suspended():
        sim_files.REAL_RMTREE(isolation.scratch, ignore_errors=True)


def _importing():
    """True while a module is being imported (an import machinery frame is on the stack)."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _called_from(packages):
    """True when code of one of ``packages`` (top-level names) is on the stack."""
    frame = sys._getframe(2)
    while frame is not None:
        if (frame.f_globals.get("__name__") or "").split(".", 1)[0] in packages:
            return True
        frame = frame.f_back
    return False


def _patch_old_pathlib(replaced):
    """Python 3.8-3.10 ``pathlib`` calls the file functions it saw at its import."""
    accessor = getattr(pathlib, "_NormalAccessor", None)
    if accessor is None:
        return
    for name, value in list(vars(accessor).items()):
        function = getattr(value, "__func__", value)
        if id(function) in replaced:
            setattr(accessor, name, staticmethod(replaced[id(function)]))


# -- the audit hook's handlers ------------------------------------------------------------


_SHELLS = {"sh", "bash", "dash", "zsh", "cmd", "cmd.exe"}


def _program(value):
    """The program's name from a command line (a list or a string)."""
    if isinstance(value, (list, tuple)):
        shell = (
            len(value) > 2
            and os.path.basename(str(value[0])).lower() in _SHELLS
            and str(value[1]).lower() in ("-c", "/c")
        )
        value = value[2] if shell else (value[0] if value else "")  # shell=True: the command
    value = os.fsdecode(value) if isinstance(value, (bytes, os.PathLike)) else str(value)
    try:
        first = shlex.split(value, posix=os.name != "nt")[0] if value.strip() else value
    except (ValueError, IndexError):
        first = value.split()[0] if value.split() else value
    return os.path.basename(first.strip("\"'")) or first


def _runs(what_of):
    def handler(iso, args):
        if not _called_from(("platform",)):  # its `uname -p` only reads (h5py's import)
            iso.halt(f"runs a program (`{what_of(args)}`)")

    return handler


def _address(address):
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return os.fsdecode(address) if isinstance(address, bytes) else str(address)


def _socket(verb):
    def handler(iso, args):
        if not (_CA_TRAFFIC.get() or _called_from(CA_LIBRARIES)):
            iso.halt(f"{verb} `{_address(args[1] if len(args) > 1 else '?')}`")

    return handler


def _connects(iso, args):
    iso.halt(f"connects to `{args[1]}:{args[2]}`")


def _file_write(iso, args):
    path, mode, flags = (list(args) + [None, None, None])[:3]
    if path is None or isinstance(path, int) or iso.with_opener():
        return
    if mode is not None and not sim_files.writes(mode):
        return
    if mode is None and not (flags or 0) & sim_files.WRITE_FLAGS:
        return
    _file_change("writes", iso, (path,))


def _file_change(verb, iso, args):
    for path in args[:2]:
        if isinstance(path, (str, bytes, os.PathLike)):
            real = os.path.abspath(os.fsdecode(os.fspath(path)))
            if not iso.in_scratch(real) and real != os.devnull:
                iso.halt(f"{verb} `{iso.shown(real)}` in a way the dry run cannot redirect")


def _changes(verb):
    return lambda iso, args: _file_change(verb, iso, args)


_AUDITED = {
    "subprocess.Popen": _runs(lambda a: _program(a[1] if a[1] else a[0])),
    "os.system": _runs(lambda a: _program(a[0])),
    "os.exec": _runs(lambda a: _program(a[1] or a[0])),
    "os.spawn": _runs(lambda a: _program(a[2] or a[1])),
    "os.posix_spawn": _runs(lambda a: _program(a[1] or a[0])),
    "os.startfile": _runs(lambda a: _program(a[0])),
    "os.fork": lambda iso, a: iso.halt("starts a process (os.fork)"),
    "os.forkpty": lambda iso, a: iso.halt("starts a process (os.forkpty)"),
    "os.kill": lambda iso, a: iso.halt(f"sends a signal to process {a[0]}"),
    "os.killpg": lambda iso, a: iso.halt(f"sends a signal to process group {a[0]}"),
    "socket.connect": _socket("connects to"),
    "socket.sendto": _socket("sends over the network to"),
    "socket.sendmsg": _socket("sends over the network to"),
    "urllib.Request": lambda iso, a: iso.halt(f"sends a request to `{a[0]}`"),
    "http.client.connect": _connects,
    "smtplib.connect": lambda iso, a: iso.halt(f"connects to a mail server (`{a[1]}:{a[2]}`)"),
    "ftplib.connect": _connects,
    "poplib.connect": _connects,
    "imaplib.open": _connects,
    "nntplib.connect": _connects,
    "telnetlib.Telnet.open": _connects,
    "webbrowser.open": lambda iso, a: iso.halt(f"opens `{a[0]}` in a web browser"),
    "open": _file_write,
    "os.remove": _changes("removes"),
    "os.rename": _changes("renames"),
    "os.rmdir": _changes("removes"),
    "os.mkdir": _changes("makes the directory"),
    "os.link": _changes("links"),
    "os.symlink": _changes("links"),
    "os.chmod": _changes("changes the mode of"),
    "os.chown": _changes("changes the owner of"),
    "os.utime": _changes("changes the times of"),
    "os.truncate": _changes("truncates"),
    "shutil.rmtree": _changes("removes"),
    "sqlite3.connect": lambda iso, a: _sqlite(iso, a),
    "winreg.CreateKey": lambda iso, a: iso.halt("changes the Windows registry"),
    "winreg.SetValue": lambda iso, a: iso.halt("changes the Windows registry"),
    "winreg.DeleteKey": lambda iso, a: iso.halt("changes the Windows registry"),
    "winreg.DeleteValue": lambda iso, a: iso.halt("changes the Windows registry"),
}


def _sqlite(iso, args):
    database = args[0] if args else ":memory:"
    if isinstance(database, (str, bytes, os.PathLike)):
        name = os.fsdecode(os.fspath(database))
        if name != ":memory:" and not name.startswith("file::memory:"):
            _file_change("opens the database", iso, (name,))
