"""Watching job processes: log tail, abort escalation, exit, and how a job ended.

A mixin of `JobRunner` (runner.py), split out to keep each module small. Every method
runs on a runner thread: one monitor thread per job (``output`` events every
``output_interval``, abort escalation deadlines, the list of descendants) and one waiter
thread per process (``waitpid`` for our children, a pidfd or polling for adopted ones).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from . import process
from .handles import remove_handle
from .job import JobProcess
from .outcome import finished_event, interrupted_event, read_result

if TYPE_CHECKING:
    from .events import EventDispatcher
    from .settings import RunnerSettings

log = logging.getLogger(__name__)

EOF_WAIT = 1.0
SPARE_BACKOFF_MAX = 60.0


class ProcessWatching:
    """Runner threads that follow each process to its end (mixin of `JobRunner`)."""

    settings: RunnerSettings
    _lock: threading.Lock
    _processes: dict[str, JobProcess]
    _current: JobProcess | None
    _spare: JobProcess | None
    _spare_failures: int
    _closed: bool
    _dispatcher: EventDispatcher

    def _ensure_spare(self) -> None:  # provided by JobRunner
        raise NotImplementedError

    def _start_monitor(self, jp: JobProcess) -> None:
        jp.monitor = threading.Thread(
            target=self._monitor, args=(jp,), name=f"job-monitor-{jp.pid}", daemon=True
        )
        jp.monitor.start()
        if jp.adopted:  # not our child nor our fork server's, so no waitpid
            threading.Thread(
                target=self._wait, args=(jp,), name=f"job-wait-{jp.pid}", daemon=True
            ).start()

    def _monitor(self, jp: JobProcess) -> None:
        """Tail the log (``output`` events), escalate aborts, note children."""
        tail = process.LogTail(jp.log_path, self.settings.output_tail_bytes)
        next_children = 0.0
        while not jp.exited.is_set() and not jp.detached:
            now = time.monotonic()
            self._escalate(jp, now)
            text = tail.poll()
            if text is not None:
                jp.emit({"type": "output", "tail": text})
            if now >= next_children:
                jp.remember_children()
                next_children = now + 1.0
            deadlines = [d for d in (jp.terminate_at, jp.kill_at) if d is not None]
            timeout = min([self.settings.output_interval, *[d - now for d in deadlines]])
            jp.wake.wait(max(timeout, 0.001))
            jp.wake.clear()
        jp.tail = tail

    def _escalate(self, jp: JobProcess, now: float) -> None:
        with self._lock:
            if jp.terminate_at is not None and now >= jp.terminate_at:
                log.warning(
                    "job %s did not end %.3g s after a soft abort: terminating it",
                    jp.job_id,
                    self.settings.abort_grace,
                )
                jp.terminate_at = None
                jp.kill_at = now + self.settings.terminate_grace
                process.terminate_tree(jp.proc, jp.pgid)
            elif jp.kill_at is not None and now >= jp.kill_at:
                log.warning("job %s is still running after SIGTERM: killing it", jp.job_id)
                jp.kill_at = None
                process.kill_tree(jp.proc, jp.pgid, jp.known_children)
            elif jp.done_at is not None and now - jp.done_at > self.settings.done_grace:
                log.warning(
                    "job %s reported its result but its process did not exit within "
                    "%.3g s: killing it",
                    jp.job_id,
                    self.settings.done_grace,
                )
                jp.done_at = None
                process.kill_tree(jp.proc, jp.pgid, jp.known_children)

    def _wait(self, jp: JobProcess) -> None:
        """Wait for the process to end, then clean up and report (a runner thread)."""
        if jp.popen is not None:
            jp.exit_code = jp.popen.wait()
        else:
            process.wait_for_exit(jp.proc)
            if jp.fork_server is not None:  # it reaped the process: it knows the status
                jp.exit_code = jp.fork_server.exit_status(jp.pid)
        jp.exited.set()
        jp.wake.set()
        process.kill_tree(None, jp.pgid, jp.known_children)  # leftovers of the job
        with self._lock:
            is_job = jp.job_id is not None
            if not is_job:
                self._processes.pop(jp.key, None)
                if self._spare is jp:
                    self._spare = None
        if is_job:
            self._job_ended(jp)
        else:
            self._spare_ended(jp)

    def _job_ended(self, jp: JobProcess) -> None:
        if jp.monitor is not None:
            jp.monitor.join()
        if jp.spare_log is not None:
            _keep_spare_output(jp)
        if jp.ever_connected:
            jp.channel_closed.wait(EOF_WAIT)  # every message sent before exit is handled
        result = jp.result or read_result(jp.result_path, jp.job_id)
        event = finished_event(result, jp.exit_code, jp.abort_requested, jp.adopted, jp.last_line)
        if jp.never_ran:
            why = "the server stopped before its process was told to run it; it did not run"
            event = interrupted_event(jp.job_id, why)
        text = getattr(jp, "tail", None)
        text = text.poll() if text is not None else None
        if text is not None:
            jp.emit({"type": "output", "tail": text})
        remove_handle(jp.log_path)
        with self._lock:
            self._processes.pop(jp.key, None)
            if self._current is jp:
                self._current = None
            jp.emit_last(event)
        log.info(
            "job %s ended %s: its process (pid %s) %s",
            jp.job_id,
            event["state"],
            jp.pid,
            process.exit_reason(jp.exit_code),
        )
        self._ensure_spare()

    def _spare_ended(self, jp: JobProcess) -> None:
        young = time.monotonic() - jp.spawned_at < 5.0 and not jp.discarded
        if jp.spare_log is not None:
            if young and not self._closed:
                tail = process.LogTail(jp.spare_log, 2000).read()
                log.warning(
                    "warm spare (pid %s) %s soon after starting; its output: %s",
                    jp.pid,
                    process.exit_reason(jp.exit_code),
                    tail or "(none)",
                )
            jp.spare_log.unlink(missing_ok=True)
        with self._lock:
            self._spare_failures = self._spare_failures + 1 if young else 0
            delay = min(SPARE_BACKOFF_MAX, 0.5 * 2**self._spare_failures) if young else 0
        if self._closed:
            return
        if delay:
            timer = threading.Timer(delay, self._ensure_spare)
            timer.daemon = True
            timer.start()
        else:
            self._ensure_spare()


def _keep_spare_output(jp: JobProcess) -> None:
    """Move what a spare wrote before its job took over its output into the job's log.

    The launcher does this itself when the job starts; this covers a spare that died
    before (e.g. an error in the launcher), so the job's log says why.
    """
    try:
        data = jp.spare_log.read_bytes()
    except OSError:
        return
    try:
        with open(jp.log_path, "ab") as log_file:
            log_file.write(data)
        jp.spare_log.unlink()
    except OSError as exc:
        log.warning("cannot copy %s into %s: %s", jp.spare_log, jp.log_path, exc)
