"""JobRunner: runs each job in its own process and reports what it does (docs/runner.md).

Every public method returns at once: it changes state under the runner's lock, signals or
messages the process, and leaves the waiting to runner threads. Events are delivered by an
`EventDispatcher` thread with no runner lock held, so the receiver may call back in.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from ..contract.protocols import job_channel as protocol
from . import process
from .channel import ChannelServer, Connection
from .events import EventDispatcher, RunnerEvents
from .forking import Forker, available
from .handles import handle_path, read_handle
from .job import JobProcess
from .launch import check_launch
from .outcome import finished_event, interrupted_event, read_result
from .settings import RunnerSettings, load_secret
from .spares import WarmSpares
from .spawning import JobSpawning, Spawning
from .watching import ProcessWatching

log = logging.getLogger(__name__)


class JobRunner(JobSpawning, WarmSpares, ProcessWatching):
    """Starts, watches, pauses, resumes, aborts and adopts job processes.

    See docs/design.md for the interface and the event table, docs/runner.md for the
    behaviour. Threading contract: methods may be called from any thread, including from
    inside ``on_job_event``; they never wait for a job process.
    """

    def __init__(self, settings: RunnerSettings, events: RunnerEvents) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._processes: dict[str, JobProcess] = {}
        self._parked: dict[str, Connection] = {}
        self._current: JobProcess | None = None
        self._spare: JobProcess | None = None
        self._spare_spawning = False
        self._spare_failures = 0
        self._last_commands: list[dict] = []
        self._spawning: dict[str, Spawning] = {}
        self._closed = False
        runtime = settings.runtime_dir
        (runtime / "spares").mkdir(parents=True, exist_ok=True)
        for stale in (runtime / "spares").glob("spare-*.log"):  # spares of a dead server
            stale.unlink(missing_ok=True)
        self._secret = load_secret(runtime, settings.secret)
        self._dispatcher = EventDispatcher(events)
        self._channel = ChannelServer(runtime, self._secret, settings.channel_port, self._on_hello)
        self._forker: Forker | None = None
        if settings.fork_server is not False and available():
            self._forker = Forker(
                settings.job_python,
                settings.command_dirs,
                settings.prelude,
                runtime,
                settings.env,
                settings.cwd,
            )
        self._ensure_spare()

    # -- public interface -----------------------------------------------------------------

    def start(self, launch: dict) -> None:
        """Run a job (see docs/design.md for ``launch``); events follow from runner threads.

        Raises:
            ValueError: ``launch`` is malformed (the message names the key).
            RuntimeError: a job is still running, or the runner is closed.
        """
        check_launch(launch)
        log_path = Path(launch["log_path"])
        log_path.parent.mkdir(parents=True, exist_ok=True)
        result_path = Path(str(log_path) + ".result.json")
        result_path.unlink(missing_ok=True)
        run = {
            "type": protocol.RUN,
            **{k: launch.get(k) for k in _RUN_KEYS},
            "log_path": str(log_path),
            "result_path": str(result_path),
        }
        with self._lock:
            if self._closed:
                raise RuntimeError("the job runner is closed")
            if self._current is not None:
                raise RuntimeError(f"job {self._current.job_id} is still running")
            self._last_commands = list(launch.get("commands") or [])
            jp = self._take_spare()
            cold = jp is None
            if cold:  # no spare: a new process, spawned on a runner thread (below)
                jp = JobProcess(secrets.token_hex(8), self._dispatcher.emit, self._on_running)
                self._processes[jp.key] = jp
                self._spawning[jp.key] = Spawning()
            self._current = jp
            with jp.lock:
                jp.job_id = launch["job_id"]
                jp.blackbox = bool(launch.get("blackbox"))
                jp.pause_pending = bool(launch.get("paused")) and not jp.blackbox
                jp.log_path, jp.result_path = log_path, result_path
                if not cold:
                    self._launch(jp, run)
            if not cold:
                self._start_monitor(jp)
                return
        try:  # the job log exists when start() returns (the spawn appends to it)
            open(log_path, "ab").close()  # noqa: SIM115
        except OSError:
            pass  # the spawn fails on it too: a launch failure
        args = [*self._launcher_args(jp.key), "--job-id", str(launch["job_id"])]
        threading.Thread(
            target=self._cold_start,
            args=(jp, [*args, "--log", str(log_path)], run),
            name=f"job-spawn-{launch['job_id']}",
            daemon=True,
        ).start()

    def pause(self, immediate: bool) -> str | None:
        """Pause the current job: at its next pause point, or now (suspend the tree)."""
        with self._lock:
            jp = self._current
            if jp is None:
                return "no job is running"
            with jp.lock:  # the flags below are also changed on the channel thread
                if jp.abort_requested:
                    return f"job {jp.job_id} is being aborted"
                if jp.exited.is_set():
                    return f"job {jp.job_id} has ended"
                if jp.suspended or jp.paused:
                    return f"job {jp.job_id} is already paused"
                if immediate and jp.engine_active:  # the RunEngine stops, not the process
                    jp.pause_pending = True
                    self._send(jp, {"type": protocol.PAUSE, "immediate": True})
                    return None
                if immediate:
                    if jp.key not in self._spawning:  # else suspended once it exists
                        process.suspend_tree(jp.proc, jp.pgid)
                    jp.suspended = True
                    jp.emit({"type": "paused", "line": jp.last_line, "immediate": True})
                    return None
                if jp.blackbox:
                    return (
                        f"job {jp.job_id} is a black-box job: it has no pause points, so it "
                        "can only be paused immediately (suspended)"
                    )
                if jp.pause_pending:
                    return (
                        f"a pause of job {jp.job_id} is already requested; it takes effect "
                        "at the job's next line or pause point"
                    )
                jp.pause_pending = True
                self._send(jp, {"type": protocol.PAUSE})
                return None

    def resume(self) -> str | None:
        """Resume a paused job, or cancel a deferred pause that has not taken effect."""
        with self._lock:
            jp = self._current
            if jp is None:
                return "no job is running"
            with jp.lock:  # the flags below are also changed on the channel thread
                if jp.suspended:
                    if jp.key not in self._spawning:
                        process.resume_tree(jp.proc, jp.pgid)
                    jp.suspended = False
                    if jp.pause_pending or jp.paused:  # a deferred pause taken or pending too
                        jp.pause_pending = jp.paused = False
                        self._send(jp, {"type": protocol.RESUME})
                    jp.emit({"type": "resumed", "line": jp.last_line, "immediate": True})
                    return None
                if jp.paused or jp.pause_pending:
                    jp.paused = jp.pause_pending = False
                    self._send(jp, {"type": protocol.RESUME})
                    return None
                return f"job {jp.job_id} is not paused"

    def abort(self, kill: bool, reason: str = "") -> str | None:
        """Abort the current job: soft (unwind, then escalate) or kill the tree now.

        A soft abort raises ``JobAborted(reason)`` in the job's main thread at once, even
        when it is blocked in a call or black-box; the tree is terminated only if the job
        has not ended after ``abort_grace`` seconds.
        """
        with self._lock:
            jp = self._current
            if jp is None:
                return "no job is running"
            with jp.lock:  # the flags below are also changed on the channel thread
                if kill:
                    jp.abort_requested = True
                    spawning = self._spawning.get(jp.key)
                    if spawning is not None:  # killed as soon as it exists
                        spawning.kill = True
                    else:
                        process.kill_tree(jp.proc, jp.pgid, jp.known_children)
                    return None
                if jp.abort_requested:
                    return (
                        f"job {jp.job_id} is already being aborted; abort with kill to end it now"
                    )
                jp.abort_requested = True
                if jp.suspended:  # it must run to unwind
                    if jp.key not in self._spawning:
                        process.resume_tree(jp.proc, jp.pgid)
                    jp.suspended = False
                self._send(jp, {"type": protocol.ABORT, "reason": reason})
                jp.terminate_at = time.monotonic() + self.settings.abort_grace
                jp.wake.set()
                return None

    def edit(self, number: int, source: str) -> str | None:
        """Send the running job an edit of its script (``edit_received``, then ``edited``)."""
        with self._lock:
            jp = self._current
            if jp is None or jp.exited.is_set():
                return "no job is running"
            self._send(jp, {"type": protocol.EDIT, "edit": number, "source": source})
            return None

    def adopt(self, job_id: int, handle: dict, log_path: str) -> None:
        """Reattach to a job left running by a previous server (events follow).

        If its process (same pid and creation time) is alive, the runner waits for its
        reconnection and reports it as usual; if it is gone, ``finished`` comes from its
        result file, or is INTERRUPTED when there is none.
        """
        if not isinstance(handle.get("pid"), int):  # launched, `started` never stored
            handle = read_handle(handle_path(log_path), job_id) or handle
        result_path = Path(handle.get("result_path") or (str(log_path) + ".result.json"))
        pid, create_time, key = handle.get("pid"), handle.get("create_time"), handle.get("key")
        proc = None
        if isinstance(pid, int) and isinstance(create_time, (int, float)):
            proc = process.find_process(pid, float(create_time), key, bool(handle.get("forked")))
        with self._lock:
            if self._closed:
                raise RuntimeError("the job runner is closed")
            if self._current is not None:
                raise RuntimeError(f"job {self._current.job_id} is still running")
            if proc is None:
                result = read_result(result_path, job_id)
                if result is not None:
                    event = finished_event(result, None, False, True, None)
                elif not isinstance(pid, int):  # its `run` was never sent: it never ran
                    event = interrupted_event(
                        job_id,
                        "the server stopped while launching it, before its process was "
                        "recorded (no launch handle), so it most likely never ran; it left "
                        "no result",
                    )
                else:
                    event = interrupted_event(
                        job_id,
                        f"its process (pid {pid}) was no longer running when the server "
                        "restarted, and it left no result",
                    )
                self._dispatcher.emit(job_id, event)
                return
            jp = JobProcess(key or f"adopted-{pid}", self._dispatcher.emit, self._on_running)
            pgid = handle.get("pgid")
            jp.bind(proc, None, pgid if _group_of(pid) == pgid else None)
            jp.job_id, jp.blackbox = job_id, bool(handle.get("blackbox"))
            jp.log_path, jp.result_path = Path(log_path), result_path
            self._processes[jp.key] = jp
            self._current = jp
            parked = self._parked.pop(jp.key, None)
            if _is_stopped(proc):
                jp.suspended = True
                jp.emit({"type": "paused", "line": None, "immediate": True})
            self._start_monitor(jp)
        log.info("adopted job %s (pid %s)", job_id, pid)
        if parked is not None:
            jp.connected(parked, parked.hello)

    def close(self) -> None:
        """Shut down: stop listening and reporting; a running job keeps running."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            spare, self._spare = self._spare, None
            for jp in self._processes.values():
                with jp.lock:
                    jp.detached = True
                jp.wake.set()
        self._channel.close()
        if spare is not None:
            process.kill_tree(spare.proc, spare.pgid)
        if self._forker is not None:
            self._forker.close()
        self._dispatcher.close()

    # -- additions for tests and benchmarks -----------------------------------------------

    @property
    def fork_server_pid(self) -> int | None:
        """Pid of the fork server once it is ready to fork, else None."""
        return self._forker.ready_pid if self._forker is not None else None

    @property
    def channel_port(self) -> int:
        """The TCP port of the job-control channel on 127.0.0.1."""
        return self._channel.port

    # -- the job channel ------------------------------------------------------------------

    def _on_hello(self, conn: Connection, hello: dict) -> tuple[dict, Any]:
        key = hello.get("key")
        state = hello.get("state") or {}
        with self._lock:
            jp = self._processes.get(key) if isinstance(key, str) else None
            if jp is None:
                if hello.get("job_id") is None or state.get("phase") not in ("running", "finished"):
                    # a spare or unstarted job of a dead server
                    return {"type": protocol.EXIT}, None
                self._parked[key] = conn  # a job of a previous server, until core adopts it
                return {"type": protocol.WELCOME}, None
            if (
                jp.adopted
                and jp.proc is not None  # else ours, being spawned: its hello came first
                and jp.key not in self._spawning
                and state.get("phase") not in ("running", "finished")
            ):
                jp.never_ran = True  # adopted, but its `run` went down with the old server
                return {"type": protocol.EXIT}, None
            commands = self._last_commands if jp.job_id is None else None
        return {"type": protocol.WELCOME, "commands": commands}, lambda: jp.connected(conn, hello)


_RUN_KEYS = ("job_id", "name", "kind", "source", "filename", "blackbox", "commands", "paused")


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except (OSError, AttributeError):
        return None


def _is_stopped(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_STOPPED
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
