"""The warm spare: a launcher process started ahead, so a job does not pay for start-up.

A mixin of `JobRunner` (runner.py), split out to keep each module small. A spare has run
the prelude and imported the command modules; `start` hands it the job unless the
prelude or a command file changed since it started.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import process
from .job import JobProcess

if TYPE_CHECKING:
    from .events import EventDispatcher
    from .settings import RunnerSettings

log = logging.getLogger(__name__)


class WarmSpares:
    """Starting, checking and handing over the warm spare (mixin of `JobRunner`)."""

    settings: RunnerSettings
    _lock: threading.Lock
    _processes: dict[str, JobProcess]
    _spare: JobProcess | None
    _spare_spawning: bool
    _closed: bool
    _dispatcher: EventDispatcher

    def _launcher_args(self, key: str) -> list[str]:  # provided by JobSpawning
        raise NotImplementedError

    def _spawn(self, jp: JobProcess, args: list[str], output: Path) -> None:  # JobSpawning
        raise NotImplementedError

    def _start_waiter(self, jp: JobProcess) -> None:  # JobSpawning
        raise NotImplementedError

    def wait_for_spare(self, timeout: float) -> bool:
        """Wait until a warm spare is ready (prelude done, connected); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                spare = self._spare
            if spare is not None and spare.ready.wait(min(0.05, timeout)):
                return True
            time.sleep(0.01)
        return False

    @property
    def spare_pid(self) -> int | None:
        """Pid of the warm spare, if there is one."""
        spare = self._spare
        return spare.pid if spare is not None else None

    def _watched_paths(self) -> list[Path]:
        paths = list(self.settings.command_dirs)
        if self.settings.prelude is not None:
            paths.append(self.settings.prelude)
        return paths

    def _take_spare(self) -> JobProcess | None:
        """The warm spare if it is still usable, else None (lock held)."""
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        why = None
        if spare.exited.is_set():
            why = "it has exited"
        elif spare.prelude_error is not None:
            why = "its prelude failed (a fresh process will run it again)"
        elif spare.snapshot != process.file_snapshot(self._watched_paths()):
            why = "the prelude or a command file changed since it started"
        if why is None:
            return spare
        log.info("not using the warm spare (pid %s): %s", spare.pid, why)
        spare.discarded = True
        process.kill_tree(spare.proc, spare.pgid)
        return None

    def _ensure_spare(self) -> None:
        """Start a warm spare unless one exists (or spares are off or failing)."""
        with self._lock:
            if self._closed or not self.settings.warm_spare:
                return
            if self._spare is not None or self._spare_spawning:
                return
            self._spare_spawning = True
            jp = JobProcess(secrets.token_hex(8), self._dispatcher.emit, self._on_running)
            self._processes[jp.key] = jp
        jp.snapshot = process.file_snapshot(self._watched_paths())
        jp.spare_log = self.settings.runtime_dir / "spares" / f"spare-{jp.key}.log"
        try:
            self._spawn(
                jp, [*self._launcher_args(jp.key), "--log", str(jp.spare_log)], jp.spare_log
            )
        except OSError as exc:
            log.error("cannot start a warm spare with %r: %s", self.settings.job_python, exc)
            with self._lock:
                self._processes.pop(jp.key, None)
                self._spare_spawning = False
            return
        self._start_waiter(jp)
        with self._lock:
            self._spare_spawning = False
            if not self._closed:
                self._spare = jp
                return
        jp.discarded = True
        process.kill_tree(jp.proc, jp.pgid)

    def _on_running(self, jp: JobProcess) -> None:
        """A job's code is about to run: replace the spare it may have used (in a thread)."""
        threading.Thread(target=self._ensure_spare, name="spare-start", daemon=True).start()
