"""Follow the executing line of the job's own code, and nothing else.

Runs inside job processes: standard library only, Python 3.8+.

Two implementations with one interface:

- ``sys.monitoring`` (Python 3.12+): LINE events are enabled *locally* on the job's code
  objects only (the module code and every function, class body, lambda or comprehension
  compiled from it), so library and command code runs at full speed.
- ``sys.settrace`` (older Pythons): a global trace function that returns a local tracer
  only for frames whose ``co_filename`` is the job's, so only the job's frames get line
  events. Every Python call in the traced thread still pays for one call event.

Per line the hook does: if the line changed, ``on_line(line)``; if ``requested[0]`` is
true, ``checkpoint(line, code)`` (which may block for a pause or raise to abort). Keeping that
test a list lookup keeps the common path cheap.

Limits: with settrace only the thread that installed it is traced; with sys.monitoring job
functions run in other threads are traced too. A trace function that raises (the soft
abort) makes CPython drop settrace tracing, so lines run in ``finally:`` blocks after an
abort are not reported.
"""

from __future__ import annotations

import sys
import types

MONITORING = "monitoring"
SETTRACE = "settrace"
_TOOL_NAME = "scriptserver"


def code_objects(code):
    """The code object and every code object nested in its constants, depth first."""
    found = [code]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found.extend(code_objects(const))
    return found


class LineTracer:
    """Reports line changes of one compiled job and calls a checkpoint when asked.

    Args:
        filename: the job's ``co_filename`` (what its source was compiled with).
        on_line: called with the new line number whenever the executing line changes.
        checkpoint: called with the line number before a line runs while
            ``requested[0]`` is true.
        requested: a one-element list the controller sets to True when a pause or an
            abort is waiting.
        mode: ``"monitoring"`` or ``"settrace"``; default: monitoring where available.
    """

    def __init__(self, filename, on_line, checkpoint, requested, mode=None):
        self.filename = filename
        self.mode = mode or (MONITORING if hasattr(sys, "monitoring") else SETTRACE)
        if self.mode == MONITORING and not hasattr(sys, "monitoring"):
            raise ValueError("sys.monitoring needs Python 3.12 or later")
        self._on_line = on_line
        self._checkpoint = checkpoint
        self._requested = requested
        self._tool = None
        self._installed = False

    def install(self, code) -> None:
        """Start tracing ``code`` (the compiled job) and everything nested in it."""
        if self.mode == MONITORING:
            self._install_monitoring(code)
        else:
            sys.settrace(self._make_settrace())
        self._installed = True

    def add(self, code) -> None:
        """Trace ``code`` too (the rest of an edited script).

        With settrace this also restarts tracing, which CPython drops when the trace
        function raises.
        """
        if self.mode == MONITORING:
            for nested in code_objects(code):
                sys.monitoring.set_local_events(self._tool, nested, sys.monitoring.events.LINE)
        else:
            sys.settrace(self._make_settrace())

    def uninstall(self) -> None:
        """Stop tracing; safe to call twice."""
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

    def _make_settrace(self):
        filename = self.filename
        on_line, checkpoint, requested = self._on_line, self._checkpoint, self._requested
        last = [0]

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
        last = [0]

        def on_line_event(code, line):
            if line != last[0]:
                last[0] = line
                on_line(line)
            if requested[0]:
                checkpoint(line, code)

        mon.register_callback(self._tool, mon.events.LINE, on_line_event)
        for nested in code_objects(code):
            mon.set_local_events(self._tool, nested, mon.events.LINE)
