"""The runner's end of the fork server (POSIX): job processes at the cost of a fork.

`job/forkserver.py` runs as a process of the job's Python that has imported, once, what
every job process needs (see its docstring); each job process (warm spare or cold start)
is forked from it instead of starting an interpreter. The forked process is the fork
server's child, not ours: the runner watches it with a pidfd as it does an adopted one,
and learns its exit status from the fork server, which reaps it. Each forked process
starts its own session, so a job survives the IOC and the fork server exactly as a
spawned one does, and is adopted after a restart the same way.

`ForkServer` is one such process for one set of command files and prelude: the runner
replaces it when they change (as it does the warm spare), and falls back to spawning a
fresh interpreter whenever it cannot fork (not started, died, or stale).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
import time
from pathlib import Path

from ..job import _protocol as protocol
from ..store import privacy
from . import process

log = logging.getLogger(__name__)

FORK_SERVER = process.JOB_DIR / "forkserver.py"
READY_TIMEOUT = 60.0
"""Seconds the fork server may take to import ahead (e.g. genie_python) before it is given up."""
FORK_TIMEOUT = 5.0
EXIT_STATUS_WAIT = 1.0
"""Seconds to wait for the fork server's report of a child's exit status once it is gone."""


def available() -> bool:
    """True where job processes can be forked (POSIX)."""
    return os.name == "posix" and hasattr(os, "fork")


class ForkServer:
    """One fork server process, the replies it sends, and the exit statuses of its children.

    Threading: `fork` is called from runner threads (never the caller of `JobRunner.start`:
    a spawn happens on a runner thread); a reader thread handles the replies.

    Args:
        python: the job's interpreter.
        command_dirs: the command directories (their files' imports are imported ahead).
        prelude: the prelude file (its imports too), or None.
        log_path: where the fork server's own output goes.
        env: the environment of job processes (`process.job_environment`).
        cwd: the working directory of job processes.
    """

    def __init__(
        self,
        python: str,
        command_dirs: list[Path],
        prelude: Path | None,
        log_path: Path,
        env: dict[str, str],
        cwd: Path | None,
    ) -> None:
        args = [python, str(FORK_SERVER)]
        for directory in command_dirs:
            args += ["--command-dir", str(directory)]
        if prelude is not None:
            args += ["--prelude", str(prelude)]
        self.snapshot = process.file_snapshot([*command_dirs, *([prelude] if prelude else [])])
        self._write_lock = threading.Lock()
        self._cond = threading.Condition()
        self._replies: dict[int, dict] = {}
        self._statuses: dict[int, int] = {}
        self._next_id = 0
        self._closed = False
        self.ready = threading.Event()
        self.info: dict = {}
        with open(log_path, "ab") as err:
            self._popen = subprocess.Popen(
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env=env,
                cwd=str(cwd) if cwd is not None else None,
                close_fds=True,
                start_new_session=True,  # a Ctrl-C of the IOC does not reach it
            )
        self.pid = self._popen.pid
        threading.Thread(target=self._read, name="fork-server", daemon=True).start()

    @property
    def alive(self) -> bool:
        """True while the fork server runs and serves."""
        return not self._closed and self._popen.poll() is None

    def fork(self, args: list[str], log_path: Path, umask: int | None) -> int:
        """Fork a launcher process with ``args``, its output appended to ``log_path``.

        Returns:
            The new process's pid.

        Raises:
            OSError: the fork server is not ready, is gone, or could not fork (why).
        """
        if not self.ready.wait(READY_TIMEOUT) or not self.alive:
            raise OSError(f"the fork server (pid {self.pid}) is not running")
        with self._cond:
            self._next_id += 1
            number = self._next_id
        request = {"type": protocol.FORK, "id": number, "args": args, "log": str(log_path)}
        request["umask"] = umask
        try:
            with self._write_lock:  # never the condition's: the reader needs that one
                self._popen.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
                self._popen.stdin.flush()
        except (OSError, ValueError) as exc:
            raise OSError(f"the fork server (pid {self.pid}) is gone: {exc}") from None
        with self._cond:
            if not self._cond.wait_for(
                lambda: number in self._replies or self._closed, FORK_TIMEOUT
            ):
                raise OSError(f"the fork server (pid {self.pid}) did not answer")
            reply = self._replies.pop(number, None)
        if reply is None:
            raise OSError(f"the fork server (pid {self.pid}) has stopped")
        if reply.get("type") != protocol.FORKED:
            raise OSError(f"the fork server could not fork: {reply.get('error')}")
        return int(reply["pid"])

    def exit_status(self, pid: int, timeout: float = EXIT_STATUS_WAIT) -> int | None:
        """The exit status of a child that has ended (minus the signal), None if unknown."""
        with self._cond:
            self._cond.wait_for(lambda: pid in self._statuses or self._closed, timeout)
            return self._statuses.pop(pid, None)

    def close(self) -> None:
        """Stop the fork server (its children, running jobs included, live on)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        try:
            self._popen.stdin.close()  # it exits on end of input
        except OSError:
            pass
        try:
            self._popen.wait(2)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            self._popen.wait()

    def _read(self) -> None:
        for raw in self._popen.stdout:
            try:
                reply = json.loads(raw.decode("utf-8"))
            except ValueError:
                continue
            kind = reply.get("type") if isinstance(reply, dict) else None
            with self._cond:
                if kind == protocol.READY:
                    self.info = reply
                    self.ready.set()
                elif kind in (protocol.FORKED, protocol.FORK_FAILED):
                    self._replies[reply.get("id")] = reply
                elif kind == protocol.EXITED:
                    self._statuses[reply.get("pid")] = reply.get("status")
                self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._popen.wait()
        self.ready.set()  # nobody waits for a fork server that is gone


class Forker:
    """The runner's current fork server: started, replaced when stale, used when ready.

    `fork` never waits for a fork server to start: until one is ready (or when it died or
    its command files changed) it returns None and the caller starts an interpreter as
    before, so turning this on never delays a job.

    Args:
        python: the job's interpreter.
        command_dirs: the command directories.
        prelude: the prelude file, or None.
        runtime_dir: the runner's runtime directory (the fork server's log goes there).
        env: extra environment of job processes.
        cwd: working directory of job processes.
    """

    RESTART_INTERVAL = 10.0
    """Seconds between two starts of a fork server that died or went stale."""

    def __init__(
        self,
        python: str,
        command_dirs: list[Path],
        prelude: Path | None,
        runtime_dir: Path,
        env: dict[str, str],
        cwd: Path | None,
    ) -> None:
        self._args = (python, list(command_dirs), prelude)
        self._log = runtime_dir / "forkserver.log"
        self._env = process.job_environment(env)
        self._cwd = cwd
        self._lock = threading.Lock()
        self._server: ForkServer | None = None
        self._started_at = -self.RESTART_INTERVAL
        self._closed = False
        self._start()

    def _start(self) -> None:
        """Start a fork server (lock held, or in __init__)."""
        self._started_at = time.monotonic()
        python, command_dirs, prelude = self._args
        try:
            self._server = ForkServer(
                python, command_dirs, prelude, self._log, self._env, self._cwd
            )
        except OSError as exc:
            log.warning("cannot start a fork server with %r: %s", python, exc)
            self._server = None

    def _usable(self) -> ForkServer | None:
        """The fork server if it can fork now; replaces a dead or stale one (lock held)."""
        server = self._server
        if server is not None and server.alive:
            if not server.ready.is_set():
                return None
            paths = [*self._args[1], *([self._args[2]] if self._args[2] else [])]
            if server.snapshot == process.file_snapshot(paths):
                return server
            log.info("the command files or the prelude changed: starting a new fork server")
        elif server is not None:
            log.warning("the fork server (pid %s) has stopped: see %s", server.pid, self._log)
        if server is not None:  # the exit statuses of its children still running are lost
            self._server = None
            threading.Thread(target=server.close, name="fork-server-stop", daemon=True).start()
        if time.monotonic() - self._started_at >= self.RESTART_INTERVAL:
            self._start()
        return None

    def fork(self, args: list[str], log_path: Path) -> tuple[ForkServer, int] | None:
        """Fork a launcher process: the fork server that did it and the pid, or None.

        ``args`` are the launcher's options; ``--server-pid`` is set to the fork server's
        pid, the parent of the new process (a spare exits when its parent is gone).
        """
        with self._lock:
            if self._closed:
                return None
            server = self._usable()
        if server is None:
            return None
        args = list(args)
        if "--server-pid" in args:
            args[args.index("--server-pid") + 1] = str(server.pid)
        try:
            return server, server.fork(args, log_path, privacy.job_umask())
        except OSError as exc:
            log.warning("forking a job process failed, starting one instead: %s", exc)
            return None

    @property
    def ready_pid(self) -> int | None:
        """Pid of the fork server if it is ready to fork, else None."""
        server = self._server
        if server is not None and server.alive and server.ready.is_set():
            return server.pid
        return None

    @property
    def excluded(self) -> list[str]:
        """Modules the fork server did not import ahead because they start a thread."""
        server = self._server
        return list(server.info.get("excluded") or []) if server is not None else []

    def close(self) -> None:
        """Stop the fork servers; the processes they forked live on."""
        with self._lock:
            self._closed = True
            server, self._server = self._server, None
        if server is not None:
            server.close()
