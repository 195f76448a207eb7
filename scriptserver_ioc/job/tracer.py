"""Follow the executing line of the job's own code, and nothing else.

Runs inside job processes: standard library only, Python 3.8+.

Three modes with one interface:

- ``sampled`` (the default where CPython offers ``Py_AddPendingCall`` through ``ctypes``):
  a sampling thread reads the main thread's stack every ``interval`` seconds and reports
  the line of the innermost frame of the job's code, so the job's own lines run at full
  speed. Line tracing (``sys.settrace`` in the main thread) is switched on only while it
  is needed: for the job's first line (reported at once), and while ``requested[0]`` is
  true (a deferred pause, a soft abort or a script edit waits for the next line).
  ``arm()`` switches it on from any thread: it asks the main thread, through a pending
  call (run between two bytecodes; no signal, so no blocking call of the job is
  interrupted), to set the trace function on the job's frames on its stack. The local
  trace function switches tracing off again at the first line it sees with nothing
  requested.
- ``monitoring`` (Python 3.12+, continuous): ``sys.monitoring`` LINE events enabled
  *locally* on the job's code objects only.
- ``settrace`` (continuous): a global trace function that returns a local tracer only for
  frames whose ``co_filename`` is the job's.

Per traced line the hook does: if the line changed, ``on_line(line)``; if ``requested[0]``
is true, ``checkpoint(line, code)`` (which may block for a pause or raise to abort).

Limits: only the main thread's lines are followed (sampled, settrace); a line shorter than
``interval`` may not be reported (the line reports were coalesced to the same rate before);
a busy thread lets the sampler run only where CPython checks for other threads (a loop's
jump back, a call), so a tight loop is reported at its loop line (``while``/``for``).
A trace function that raises (the soft abort) makes CPython drop settrace tracing, so lines
run in ``finally:`` blocks after an abort are reported only by sampling.
"""

from __future__ import annotations

import sys
import threading
import types

MONITORING = "monitoring"
SETTRACE = "settrace"
SAMPLED = "sampled"
MODES = (SAMPLED, MONITORING, SETTRACE)
_TOOL_NAME = "scriptserver"


def code_objects(code):
    """The code object and every code object nested in its constants, depth first."""
    found = [code]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found.extend(code_objects(const))
    return found


def pending_calls():
    """``Py_AddPendingCall`` through ``ctypes``, or None where it is not available.

    A pending call runs in the main thread between two bytecodes, as soon as it executes
    Python code again.
    """
    try:
        import ctypes

        add = ctypes.pythonapi.Py_AddPendingCall
    except (ImportError, AttributeError, OSError):  # not CPython, or no ctypes
        return None
    callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
    add.argtypes = [callback_type, ctypes.c_void_p]
    add.restype = ctypes.c_int
    return add, callback_type


def default_mode():
    """The cheapest mode this interpreter offers."""
    if pending_calls() is not None:
        return SAMPLED
    return MONITORING if hasattr(sys, "monitoring") else SETTRACE


def job_frame(frame, filename):
    """The innermost frame of the job's code in the stack ending at ``frame``, or None."""
    while frame is not None and frame.f_code.co_filename != filename:
        frame = frame.f_back
    return frame


class LineSampler:
    """A thread that reports the line the main thread runs in a job's code.

    Started while the process waits for its job (never in a process that will fork);
    `follow` points it at the job, or stops it.

    Args:
        interval: seconds between two samples.
    """

    def __init__(self, interval):
        self._interval = interval
        self._cond = threading.Condition()
        self._target = None
        self._main = threading.main_thread().ident
        self._thread = threading.Thread(target=self._run, name="scriptserver-lines", daemon=True)

    def start(self):
        """Start the (idle) thread."""
        self._thread.start()

    def follow(self, filename, on_line=None, last=None):
        """Sample the main thread for ``filename``'s lines (None: stop sampling).

        ``on_line(line)`` gets each new line; ``last`` is the one-element list of the last
        line reported, shared with the trace function.
        """
        with self._cond:
            self._target = None if filename is None else (filename, on_line, last)
            self._cond.notify()

    def _run(self):
        frames, main = sys._current_frames, self._main
        while True:
            with self._cond:
                while self._target is None:
                    self._cond.wait()
                filename, on_line, last = self._target
                self._cond.wait(self._interval)
                if self._target is None:
                    continue
            frame = job_frame(frames().get(main), filename)
            line = frame.f_lineno if frame is not None else None
            if isinstance(line, int) and line != last[0]:
                last[0] = line
                on_line(line)


class LineTracer:
    """Reports line changes of one compiled job and calls a checkpoint when asked.

    Args:
        filename: the job's ``co_filename`` (what its source was compiled with).
        on_line: called with the new line number whenever the executing line changes.
        checkpoint: called with the line number before a line runs while
            ``requested[0]`` is true.
        requested: a one-element list the controller sets to True when a pause, an
            abort or an edit is waiting (and then calls ``arm``).
        mode: ``"sampled"``, ``"monitoring"`` or ``"settrace"``; default: the cheapest
            available (`default_mode`).
        sampler: the process's `LineSampler` (sampled mode; started ahead, since starting
            a thread when the job starts would delay its first line).
    """

    def __init__(self, filename, on_line, checkpoint, requested, mode=None, sampler=None):
        self.filename = filename
        self.mode = mode or default_mode()
        if self.mode not in MODES:
            raise ValueError(f"trace mode must be one of {', '.join(MODES)}, got {mode!r}")
        if self.mode == MONITORING and not hasattr(sys, "monitoring"):
            raise ValueError("sys.monitoring needs Python 3.12 or later")
        self._pending = pending_calls() if self.mode == SAMPLED else None
        if self.mode == SAMPLED and (self._pending is None or sampler is None):
            raise ValueError("sampled tracing needs CPython's Py_AddPendingCall and a sampler")
        self._on_line = on_line
        self._checkpoint = checkpoint
        self._requested = requested
        self._tool = None
        self._installed = False
        self._last = [0]
        self._armed = False
        self._arm_queued = False
        self._arm_callback = None
        self._sampler = sampler

    def install(self, code) -> None:
        """Start following ``code`` (the compiled job) and everything nested in it.

        Called in the main thread, just before the job's code runs.
        """
        if self.mode == MONITORING:
            self._install_monitoring(code)
        elif self.mode == SETTRACE:
            sys.settrace(self._make_settrace())
        else:
            add, callback_type = self._pending
            self._arm_callback = callback_type(self._arm_here)  # kept alive while installed
            self._local, self._global = self._make_sampled()
            self._armed = True  # the first line is reported by the trace function, at once
            sys.settrace(self._global)
            self._sampler.follow(self.filename, self._on_line, self._last)
        self._installed = True

    def add(self, code) -> None:
        """Follow ``code`` too (the rest of an edited script).

        With settrace this also restarts tracing, which CPython drops when the trace
        function raises.
        """
        if self.mode == MONITORING:
            for nested in code_objects(code):
                sys.monitoring.set_local_events(self._tool, nested, sys.monitoring.events.LINE)
        elif self.mode == SETTRACE:
            sys.settrace(self._make_settrace())
        else:
            self._armed = True  # its first line at once, as for the job's start
            sys.settrace(self._global)

    def arm(self) -> None:
        """Trace the job's lines until nothing is requested (any thread; sampled mode).

        The other modes trace every line anyway.
        """
        if self.mode != SAMPLED or not self._installed or self._arm_queued:
            return
        self._arm_queued = True
        add = self._pending[0]
        if add(self._arm_callback, None) != 0:  # the queue is full: the main thread is busy
            self._arm_queued = False

    def current_line(self, frame=None):
        """The line of the job's code the calling thread (or ``frame``'s stack) runs, or None."""
        found = job_frame(frame or sys._getframe(1), self.filename)
        return found.f_lineno if found is not None else None

    def uninstall(self) -> None:
        """Stop tracing; safe to call twice (in the main thread)."""
        if not self._installed:
            return
        self._installed = False
        if self.mode == MONITORING:
            mon = sys.monitoring
            mon.register_callback(self._tool, mon.events.LINE, None)
            mon.free_tool_id(self._tool)
            self._tool = None
        else:
            sys.settrace(None)
        if self._sampler is not None:
            self._sampler.follow(None)

    # -- sampled mode -----------------------------------------------------------------------

    def _arm_here(self, _arg) -> int:
        """Pending call, in the main thread: trace the job's frames on the stack from now."""
        try:
            self._arm_queued = False
            if self._installed and self._requested[0]:
                frame = job_frame(sys._getframe(1), self.filename)
                while frame is not None:
                    frame.f_trace = self._local
                    frame = job_frame(frame.f_back, self.filename)
                self._armed = True
                sys.settrace(self._global)
        except BaseException:  # a pending call must not fail; the sampler still reports lines
            pass
        return 0

    def _make_sampled(self):
        filename = self.filename
        on_line, checkpoint, requested, last = (
            self._on_line,
            self._checkpoint,
            self._requested,
            self._last,
        )

        def local(frame, event, arg):
            if event == "line":
                line = frame.f_lineno
                if line != last[0]:
                    last[0] = line
                    on_line(line)
                if requested[0]:
                    checkpoint(line, frame.f_code)
                elif self._armed:  # nothing waits for a line any more: stop tracing
                    self._armed = False
                    sys.settrace(None)
                    if requested[0]:  # asked meanwhile (its pending call may have run)
                        self._armed = True
                        sys.settrace(global_trace)
                        return local
                    # before 3.10 a frame with a trace function keeps the line its last
                    # event saw, which the sampler would read
                    outer = frame
                    while outer is not None:
                        outer.f_trace = None
                        outer = job_frame(outer.f_back, filename)
                    return None
            return local

        def global_trace(frame, event, arg):
            if frame.f_code.co_filename == filename:
                return local
            return None

        return local, global_trace

    # -- continuous modes -------------------------------------------------------------------

    def _make_settrace(self):
        filename = self.filename
        on_line, checkpoint, requested = self._on_line, self._checkpoint, self._requested
        last = self._last

        def local(frame, event, arg):
            if event == "line":
                line = frame.f_lineno
                if line != last[0]:
                    last[0] = line
                    on_line(line)
                if requested[0]:
                    checkpoint(line, frame.f_code)
            return local

        def global_trace(frame, event, arg):
            if frame.f_code.co_filename == filename:
                return local
            return None

        return global_trace

    def _install_monitoring(self, code) -> None:
        mon = sys.monitoring
        for tool in (3, 4, mon.DEBUGGER_ID, mon.PROFILER_ID, mon.OPTIMIZER_ID):
            if mon.get_tool(tool) is None:
                mon.use_tool_id(tool, _TOOL_NAME)
                self._tool = tool
                break
        else:
            raise RuntimeError("no free sys.monitoring tool id for line tracing")
        on_line, checkpoint, requested = self._on_line, self._checkpoint, self._requested
        last = self._last

        def on_line_event(code, line):
            if line != last[0]:
                last[0] = line
                on_line(line)
            if requested[0]:
                checkpoint(line, code)

        mon.register_callback(self._tool, mon.events.LINE, on_line_event)
        for nested in code_objects(code):
            mon.set_local_events(self._tool, nested, mon.events.LINE)
