"""Operating-system side of job processes: spawn, process trees (psutil), exit, log tail.

Each job process is started in a new session (POSIX), so it is the leader of its own
process group: a Ctrl-C or SIGKILL of the IOC does not reach it, and its children (unless
they start their own session) can be signalled with the group even after the job process
itself has exited and they were re-parented.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import time
from pathlib import Path

import psutil

from ..store import privacy

log = logging.getLogger(__name__)

JOB_DIR = Path(__file__).resolve().parent.parent / "job"
LAUNCHER = JOB_DIR / "launcher.py"
CREATE_TIME_TOLERANCE = 0.05


def spawn(
    python: str, args: list[str], output: Path, env: dict[str, str], cwd: Path | None
) -> subprocess.Popen:
    """Start ``python launcher.py args`` with stdout and stderr appended to ``output``.

    The job's output is unbuffered unless ``env`` (or the server's environment) says
    otherwise. No ``PYTHONIOENCODING`` is added: libraries read it as a codec name (pyepics
    fails with ``LookupError`` on ``utf-8:backslashreplace``); the launcher makes the job's
    log UTF-8 by reconfiguring its own streams instead.

    Raises:
        OSError: the interpreter cannot be started (the message names it).
    """
    full_env = job_environment(env)
    with open(output, "ab") as out:
        kwargs: dict = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True
            if privacy.job_umask() is not None:  # the job's files are the user's business
                kwargs["umask"] = privacy.job_umask()
        else:  # pragma: no cover - Windows
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        return subprocess.Popen(
            [python, str(LAUNCHER), *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=full_env,
            cwd=str(cwd) if cwd is not None else None,
            close_fds=True,
            **kwargs,
        )


def job_environment(env: dict[str, str]) -> dict[str, str]:
    """The environment of job processes: the server's, unbuffered, plus ``env``."""
    full_env = dict(os.environ)
    full_env.setdefault("PYTHONUNBUFFERED", "1")  # partial lines reach the log (and tail) too
    full_env.update(env)
    full_env.pop("PYTHONSTARTUP", None)
    return full_env


def find_process(
    pid: int, create_time: float, key: str | None = None, forked: bool = False
) -> psutil.Process | None:
    """The live process with this pid and creation time (and launcher key), or None.

    A process forked by the fork server has the fork server's command line, which holds
    no key: its command line must name the fork server instead.
    """
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - create_time) > CREATE_TIME_TOLERANCE:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        if key is not None:
            with contextlib.suppress(psutil.AccessDenied):
                cmdline = proc.cmdline()
                if forked and not any(arg.endswith("forkserver.py") for arg in cmdline):
                    return None
                if not forked and key not in cmdline:
                    return None
        return proc
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied, ValueError):
        return None


def is_gone(proc: psutil.Process) -> bool:
    """True if the process has exited (a zombie counts as exited)."""
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:
        return False


def wait_for_exit(proc: psutil.Process) -> None:
    """Block until a process that is not our child exits (pidfd where available)."""
    if hasattr(os, "pidfd_open"):
        try:
            fd = os.pidfd_open(proc.pid)
        except OSError:
            return  # already gone
        try:
            while not is_gone(proc):
                select.select([fd], [], [], 1.0)
        finally:
            os.close(fd)
        return
    while not is_gone(proc):  # pragma: no cover - platforms without pidfd
        time.sleep(0.02)


def descendants(proc: psutil.Process) -> list[psutil.Process]:
    """The process's children, grandchildren, ... (empty if it is gone)."""
    try:
        return proc.children(recursive=True)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def _signal_group(pgid: int | None, sig: int) -> None:
    if pgid is None or not hasattr(os, "killpg"):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _each(processes: list[psutil.Process], action: str) -> None:
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            getattr(proc, action)()


def suspend_tree(proc: psutil.Process, pgid: int | None) -> None:
    """Stop the process, its process group and every descendant (SIGSTOP)."""
    _each([proc], "suspend")  # first, so it cannot start more children meanwhile
    if pgid is not None and hasattr(signal, "SIGSTOP"):
        _signal_group(pgid, signal.SIGSTOP)
    _each(descendants(proc), "suspend")


def resume_tree(proc: psutil.Process, pgid: int | None) -> None:
    """Continue every process stopped by ``suspend_tree`` (SIGCONT)."""
    _each(descendants(proc), "resume")
    if pgid is not None and hasattr(signal, "SIGCONT"):
        _signal_group(pgid, signal.SIGCONT)
    _each([proc], "resume")


def terminate_tree(proc: psutil.Process, pgid: int | None) -> None:
    """Ask the process and its tree to end (SIGTERM); stopped ones are continued."""
    tree = [proc, *descendants(proc)]
    _each(tree, "terminate")
    if pgid is not None:
        _signal_group(pgid, signal.SIGTERM)
    _each(tree, "resume")
    if pgid is not None and hasattr(signal, "SIGCONT"):
        _signal_group(pgid, signal.SIGCONT)


def kill_tree(
    proc: psutil.Process | None, pgid: int | None, known: list[psutil.Process] = ()
) -> None:
    """Kill the process, its group, its descendants and ``known`` former descendants."""
    tree = list(known)
    if proc is not None:
        tree = [proc, *descendants(proc), *tree]
    _each(tree, "kill")  # psutil checks pid reuse by creation time before signalling
    if pgid is not None:
        _signal_group(pgid, signal.SIGKILL)


def exit_reason(code: int | None) -> str:
    """``"was killed by signal 9 (SIGKILL)"``, ``"exited with code 3"`` or ``"ended ..."``."""
    if code is None:
        return "ended (exit status unknown)"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"was killed by signal {-code} ({name})"
    return f"exited with code {code}"


def file_snapshot(paths: list[Path]) -> dict[str, tuple[int, int]]:
    """Modification time and size of each file and of every ``*.py`` under each directory.

    Used to tell whether a warm spare (which ran the prelude and imported the commands)
    is still up to date.
    """
    snapshot: dict[str, tuple[int, int]] = {}
    stack = [str(p) for p in paths]
    while stack:
        path = stack.pop()
        try:
            st = os.stat(path)
        except OSError:
            snapshot[path] = (-1, -1)
            continue
        if not os.path.isdir(path):
            snapshot[path] = (st.st_mtime_ns, st.st_size)
            continue
        snapshot[path] = (st.st_mtime_ns, 0)  # files added or removed
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name == "__pycache__":
                continue
            if entry.is_dir():
                stack.append(entry.path)
            elif entry.name.endswith(".py"):
                stack.append(entry.path)
    return snapshot


class LogTail:
    """Reads the last bytes of a growing log file, only when it changed.

    Memory stays bounded by ``max_bytes`` however much the job writes.
    """

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._seen: tuple[int, int] | None = None

    def poll(self) -> str | None:
        """The tail as text if the file changed since the last call, else None."""
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        signature = (st.st_size, st.st_mtime_ns)
        if signature == self._seen:
            return None
        self._seen = signature
        return self.read()

    def read(self) -> str:
        """The last ``max_bytes`` bytes decoded as UTF-8 (partial characters dropped)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - self.max_bytes))
                data = f.read(self.max_bytes)
        except OSError:
            return ""
        if len(data) == self.max_bytes:
            start = 0
            while start < min(4, len(data)) and (data[start] & 0xC0) == 0x80:
                start += 1
            data = data[start:]
        return data.decode("utf-8", errors="replace")
