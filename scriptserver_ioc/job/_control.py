"""Pause, resume and abort inside the job process: the launcher's ``scriptserver`` backend.

Runs inside job processes: standard library only, Python 3.8+.

The server's ``pause``/``resume``/``abort`` messages arrive on the channel's receiver
thread and only set flags here; they take effect in the job's own thread at the next
checkpoint: a line of the job's code (the tracer), ``scriptserver.pause_point()``,
``scriptserver.sleep`` or genie_python's ``check_break``. A deferred pause blocks the job
there (reporting ``paused`` with the line) until ``resume`` (reporting ``resumed``) or
``abort``; a soft abort raises ``JobAborted`` once, so ``finally:`` blocks run.

A soft abort also interrupts the main thread (``_interrupt``) when no checkpoint has taken
it within ``INTERRUPT_AFTER`` seconds, so a job blocked in ``time.sleep`` or a genie_python
wait ends at once; the interrupt raises nothing once the abort was delivered or outside the
job. The grace matters: a job running Python lines takes the abort at its next line, where
CPython's exception table is sure to lead into the enclosing ``finally:``; an exception
raised by a signal handler between two bytecodes can skip it (CPython issue 108214: a
``try:`` whose body ends with an expression statement calling a busy C function, or a
one-line ``while`` loop), which a blocking call interrupted from inside does not.
"""

from __future__ import annotations

import sys
import threading
import time

import _interrupt
import _protocol as protocol
import scriptserver

ABORTED = "the job was aborted"
INTERRUPT_AFTER = 0.02
"""Seconds a soft abort waits for a checkpoint to take it before interrupting the job."""


class JobControl(scriptserver.Backend):
    """Pause/abort state of the running job, and the real job API backend.

    Threading: ``request_*`` are called from the channel's receiver thread; ``checkpoint``
    and the API methods from job threads. ``requested[0]`` is the tracer's cheap test.
    """

    def __init__(self, link):
        self.link = link
        self.requested = [False]
        self._cond = threading.Condition()
        self._pause_requested = False
        self._paused = False
        self._abort_requested = False
        self._abort_delivered = False
        self._abort_reason = ABORTED
        self._in_job = False
        self._main_waiting = False
        self._job_filename = None
        self._edit_waiting = False
        self.editor = None
        """The running script's `script_edit.ScriptEditor`, once the job has started."""
        self.engine = None
        """The ``_bluesky.EngineSession`` while the job's main thread is in ``RE(plan)``."""
        self.figures = None
        """The job's ``_plots.Figures`` (read by the job's matplotlib backend)."""
        self.tracer = None
        """The job's `tracer.LineTracer` (None for a black-box job): armed on a request,
        and asked for the job's current line."""

    # -- from the server (receiver thread) ------------------------------------------------

    def request_pause(self, immediate: bool = False) -> None:
        """Pause at the next checkpoint (ignored if already paused or pausing).

        Inside ``RE(plan)`` the RunEngine pauses: at its next checkpoint, or ``immediate``ly.
        """
        with self._cond:
            if self._paused or self._abort_requested:
                return
            self._pause_requested = True
            self._update_requested()
            self._cond.notify_all()
            engine = self.engine
        if engine is not None:
            engine.forward_pause(defer=not immediate)

    def request_resume(self) -> None:
        """Continue a paused job, or cancel a pause that has not taken effect yet."""
        with self._cond:
            cancelled = self._pause_requested and not self._paused
            self._pause_requested = False
            self._paused = False
            self._update_requested()
            self._cond.notify_all()
            engine = self.engine
        if engine is not None and cancelled:
            engine.cancel_pause()

    def request_abort(self, reason: str = "") -> None:
        """Raise ``JobAborted(reason)`` in the job's main thread now, or at its next checkpoint.

        A main thread waiting in a checkpoint or ``scriptserver.sleep`` is woken; one running
        the job's code (perhaps blocked in a call) is interrupted.
        """
        with self._cond:
            if self._abort_requested:
                return
            self._abort_requested = True
            self._abort_reason = reason or ABORTED
            self._pause_requested = False
            self._update_requested()
            self._cond.notify_all()
            engine = self.engine
            if engine is not None:  # the RunEngine aborts the plan; no interrupt
                engine.forward_abort(self._abort_reason)
                return
            deadline = time.monotonic() + INTERRUPT_AFTER
            while self._in_job and not self._abort_delivered and not self._main_waiting:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            interrupt = self._in_job and not self._abort_delivered and not self._main_waiting
        if interrupt:
            _interrupt.interrupt_main()

    @property
    def aborting(self) -> bool:
        """True once a soft abort was requested."""
        return self._abort_requested

    @property
    def abort_reason(self) -> str:
        """The reason of the soft abort requested (a default one before any)."""
        return self._abort_reason

    @property
    def in_job(self) -> bool:
        """True while the job's code runs (between ``enter_job`` and ``leave_job``)."""
        return self._in_job

    def edit_waiting(self, waiting: bool) -> None:
        """An edit of the script waits (the tracer calls the checkpoint at every line)."""
        with self._cond:
            self._edit_waiting = waiting
            self._update_requested()

    def _update_requested(self) -> None:
        was = self.requested[0]
        self.requested[0] = (
            self._pause_requested
            or (self._abort_requested and not self._abort_delivered)
            or self._edit_waiting
        )
        if self.requested[0] and not was and self.tracer is not None:
            self.tracer.arm()  # the next line of the job's code must be seen

    def _job_line(self, frame=None):
        """The job's line in the calling thread's stack (or ``frame``'s), else the last seen."""
        if self.tracer is not None:
            line = self.tracer.current_line(frame or sys._getframe(2))
            if line is not None:
                return line
        return self.link.line

    # -- in the job's main thread --------------------------------------------------------

    def enter_job(self, filename=None) -> None:
        """The job's code (compiled as ``filename``) starts in the main thread.

        Interrupts apply from now.

        Raises:
            scriptserver.JobAborted: an abort came before the job's first line.
        """
        _interrupt.install(self._on_interrupt)
        with self._cond:
            self._job_filename = filename
            self._in_job = True
            self._raise_if_aborted()

    def leave_job(self) -> None:
        """The job's code has ended (an interrupt arriving later is ignored)."""
        with self._cond:
            self._in_job = False

    def _on_interrupt(self, signum, frame) -> None:
        """Signal handler (main thread): deliver a waiting soft abort right here."""
        with self._cond:
            if self._in_job and not self._main_waiting:
                self._raise_if_aborted()

    def engine_entered(self, session) -> None:
        """The main thread enters ``RE(plan)``: controls go to the RunEngine meanwhile."""
        with self._cond:
            self.engine = session
            pending = self._pause_requested
        self.link.update_state(engine=True)
        self.link.send({"type": protocol.ENGINE, "active": True})
        if pending:
            session.forward_pause(defer=True)

    def engine_left(self, session) -> None:
        """``RE(plan)`` returned or raised in the main thread.

        Raises:
            scriptserver.JobAborted: an abort came during the call and was not delivered.
        """
        with self._cond:
            if self.engine is session:
                self.engine = None
        self.link.update_state(engine=False)
        self.link.send({"type": protocol.ENGINE, "active": False})
        self.raise_if_aborted()

    def raise_if_aborted(self) -> None:
        """Raise ``JobAborted`` if an abort was requested and not raised yet."""
        with self._cond:
            self._raise_if_aborted()

    def terminated(self) -> None:
        """SIGTERM (the abort's grace period is over): raise ``JobAborted`` in the job.

        Raises:
            scriptserver.JobAborted: always; the reason names the termination.
        """
        with self._cond:
            self._abort_delivered = True
            self._update_requested()
            reason = self._abort_reason if self._abort_requested else ABORTED
        raise scriptserver.JobAborted(f"{reason} (terminated: it did not end in time)")

    # -- in the job's threads -------------------------------------------------------------

    def checkpoint(self, line=None, code=None) -> None:
        """Let a requested pause, abort or script edit take effect.

        Args:
            line: the line about to run.
            code: its code object (from the tracer), for a waiting script edit.

        Raises:
            scriptserver.JobAborted: the job was aborted (raised once only).
            script_edit.ScriptEdited: the script was edited; run its new rest.
        """
        engine = self.engine
        if engine is not None and threading.current_thread() is not engine.thread:
            return  # a job's function run by the RunEngine: the RunEngine pauses
        editor = self.editor
        if code is not None and editor is not None and editor.pending is not None:
            with self._cond:
                self._raise_if_aborted()
            editor.at_line(code, line)
        with self._cond:
            self._raise_if_aborted()
            if not self._pause_requested:
                return
            if self.wait_while_paused(line):
                self._raise_if_aborted()

    def wait_while_paused(self, line=None) -> bool:
        """Report ``paused`` (at ``line``, default the current one) and wait.

        Returns:
            True if the job was aborted meanwhile, False once it was resumed.
        """
        with self._cond:
            self._pause_requested = False
            self._paused = True
            self._update_requested()
            if line is None:
                line = self._job_line()
            self.link.update_state(paused=True)
            self.link.send_urgent({"type": protocol.PAUSED, "line": line})
            with self._waiting():
                while self._paused and not self._abort_requested:
                    self._cond.wait()
            self.link.update_state(paused=False)
            if self._abort_requested:
                return True
            self.link.send_urgent({"type": protocol.RESUMED})
            return False

    def _raise_if_aborted(self) -> None:
        if self._abort_requested and not self._abort_delivered:
            self._abort_delivered = True
            self._paused = False
            self._update_requested()
            self._cond.notify_all()
            raise scriptserver.JobAborted(self._abort_reason)

    def _waiting(self) -> _Waiting:
        """Context (lock held): the main thread, if it is this one, waits in here."""
        return _Waiting(self)

    def pause_point(self) -> None:
        """``scriptserver.pause_point()``: a checkpoint at the job's current line."""
        if self.requested[0]:
            self.checkpoint(None)

    def sleep(self, seconds: float) -> None:
        """Sleep in the job, woken at once by pause or abort; paused time does not count."""
        deadline = time.monotonic() + seconds
        while True:
            if self.requested[0]:
                before = time.monotonic()
                self.checkpoint(None)
                deadline += time.monotonic() - before
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            with self._cond, self._waiting():
                if not self.requested[0]:
                    self._cond.wait(remaining)

    def progress(self, percent: float, message: str = "") -> None:
        """Report progress to the server, as the job's own or a command's.

        The job's own when called from the job's code, else a command's, which the server
        places within the job.
        """
        try:  # this <- scriptserver.progress <- its caller
            frame = sys._getframe(2)
        except ValueError:
            frame = None
        caller = frame.f_code.co_filename if frame is not None else None
        scope = "job" if caller is not None and caller == self._job_filename else "command"
        self.link.set_progress(percent, message, scope, self._job_line(frame))

    def message(self, text: str) -> None:
        """Report a progress message to the server."""
        self.link.set_message(text)

    def simulating(self) -> bool:
        """A real run, never a simulation."""
        return False


class _Waiting:
    """While the main thread waits on the condition, interrupts leave it alone."""

    def __init__(self, control: JobControl) -> None:
        self.control = control
        self.main = threading.current_thread() is threading.main_thread()

    def __enter__(self) -> None:
        if self.main:
            self.control._main_waiting = True

    def __exit__(self, *exc) -> None:
        if self.main:
            self.control._main_waiting = False
