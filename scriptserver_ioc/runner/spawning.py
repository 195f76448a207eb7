"""Starting a job's process: spawning it (forked or started), then handing it its job.

A mixin of `JobRunner` (runner.py), split out to keep each module small. A cold start
spawns the process on a runner thread; what clients ask of the job meanwhile waits in its
`Spawning` record and is done once the process has its ``run`` message.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from .. import fault_hooks
from ..contract.protocols import job_channel as protocol
from . import process
from .handles import handle_path, write_handle
from .job import JobProcess
from .outcome import launch_failed_event

if TYPE_CHECKING:
    from .forking import Forker
    from .settings import RunnerSettings

log = logging.getLogger(__name__)

PAUSE_TYPES = (protocol.PAUSE, protocol.RESUME)
"""Control messages a spawned job gets as its ``run``'s ``paused`` flag, not sent after."""


class Spawning:
    """What was asked of a job while its process was being spawned (runner lock)."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        """Control messages (pause, resume, abort, edit), sent in order after ``run``."""
        self.kill = False
        """Killed before it existed: killed as soon as it does (``started`` first)."""


class JobSpawning:
    """Spawning job processes and giving them their jobs (mixin of `JobRunner`).

    Uses `ProcessWatching`'s ``_start_monitor`` and ``_wait`` (its runner threads).
    """

    settings: RunnerSettings
    _lock: threading.Lock
    _processes: dict[str, JobProcess]
    _current: JobProcess | None
    _spawning: dict[str, Spawning]
    _closed: bool
    _forker: Forker | None

    def _launch(self, jp: JobProcess, run: dict) -> None:
        """Give the job to its process: handle file, ``started``, ``run`` (both locks held)."""
        handle = jp.handle(self.settings.job_python)
        write_handle(handle_path(jp.log_path), handle)  # before `run`: see handles.py
        if not fault_hooks.drop_started():
            jp.emit({"type": "started", "pid": jp.pid, "handle": handle})
        jp.send_control(run)

    def _send(self, jp: JobProcess, message: dict) -> None:
        """Send a control message, held until after ``run`` while the process is spawned."""
        spawning = self._spawning.get(jp.key)
        if spawning is not None:
            spawning.messages.append(message)
        else:
            jp.send_control(message)

    def _cold_start(self, jp: JobProcess, args: list[str], run: dict) -> None:
        """Spawn the current job's process (a runner thread), then do what was asked meanwhile.

        Until the process exists the job is current with ``jp.proc`` unusable: pause, resume
        and abort only change its flags (`_spawning` holds its control messages and a kill).
        """
        try:
            self._spawn(jp, args, jp.log_path)
        except OSError as exc:
            log.error("cannot start job %s: %s", jp.job_id, exc)
            with self._lock:
                self._processes.pop(jp.key, None)
                self._spawning.pop(jp.key, None)
                if self._current is jp:
                    self._current = None
                jp.emit_last(launch_failed_event(self.settings.job_python, exc))
            return
        with self._lock:
            spawning = self._spawning.pop(jp.key)
            if self._closed:  # never told to run, so nothing to recover: it must not stay
                log.info("job %s not started: the runner was closed meanwhile", jp.job_id)
                process.kill_tree(jp.proc, jp.pgid)
            else:
                with jp.lock:
                    # A deferred pause asked for meanwhile goes in `run` (taken before line
                    # 1): a PAUSE sent after `run` could arrive after the first lines ran.
                    # The flag is the net result of the pauses and resumes held meanwhile.
                    run = {**run, "paused": jp.pause_pending}
                    held = [m for m in spawning.messages if m["type"] not in PAUSE_TYPES]
                    self._launch(jp, run)
                    if spawning.kill:
                        process.kill_tree(jp.proc, jp.pgid)
                    else:
                        if jp.suspended:  # an immediate pause asked for meanwhile
                            process.suspend_tree(jp.proc, jp.pgid)
                        for message in held:
                            jp.send_control(message)
                self._start_monitor(jp)
            self._start_waiter(jp)

    def _launcher_args(self, key: str) -> list[str]:
        s = self.settings
        args = [
            "--key",
            key,
            "--server-pid",
            str(os.getpid()),
            "--runtime",
            str(s.runtime_dir),
            "--line-interval",
            repr(float(s.line_interval)),
        ]
        if s.prelude is not None:
            args += ["--prelude", str(s.prelude)]
        for directory in s.command_dirs:
            args += ["--command-dir", str(directory)]
        if s.trace_mode:
            args += ["--trace-mode", s.trace_mode]
        return args

    def _spawn(self, jp: JobProcess, args: list[str], output: Path) -> None:
        """Start the process of ``jp`` (slow: never on a caller's thread); OSError if not.

        The caller then starts its waiter thread (`_start_waiter`).
        """
        s = self.settings
        forked = self._forker.fork(args, output) if self._forker is not None else None
        if forked is not None:  # POSIX: from the warm fork server, in its own session
            jp.fork_server, pid = forked
            try:
                jp.bind(psutil.Process(pid), None, pid)
                return
            except psutil.NoSuchProcess:  # it ended at once: start one the usual way
                jp.fork_server = None
        popen = process.spawn(s.job_python, args, output, s.env, s.cwd)
        proc = psutil.Process(popen.pid)
        jp.bind(proc, popen, popen.pid if os.name == "posix" else None)

    def _start_waiter(self, jp: JobProcess) -> None:
        threading.Thread(
            target=self._wait, args=(jp,), name=f"job-wait-{jp.pid}", daemon=True
        ).start()
