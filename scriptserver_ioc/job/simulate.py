"""Dry run of one job in simulation, in its own process (run with the job interpreter).

Standard library only, Python 3.8+, nothing imported from the rest of the package (only the
sibling job modules). Started by ``scriptserver_ioc.validate.dryrun``.

Input: one JSON object on stdin: ``{"source", "filename", "commands", "command_dirs",
"prelude", "prelude_filename", "time_limit", "max_steps", "max_writes", "scratch"}``.
Output (stdout, JSON lines): ``{"event": "started"}`` when the prelude is done and the job
starts, then the result ``{"ok", "estimate", "steps", "writes", "withheld", "output",
"error", ...}``.

The dry run is isolated from the world (``sim_isolation``, installed before the prelude and
the commands are imported): file writes go to a scratch overlay in ``scratch`` (a directory
the caller owns and removes), removals and renames are recorded, not done (``withheld``);
a program, network traffic or a write that cannot be redirected ends the dry run with an
error of type ``DryRunHalted`` (verdict ``unknown``) naming the line.

The job runs with a virtual clock (``sim_patches``): sleeps, ``scriptserver.sleep`` and
genie_python's timed waits and waits on beam (``sim_genie``) advance it instantly; a
catalogue command with an estimate runs in simulation and counts as its estimate; Channel
Access writes are recorded, not sent.
Each line of the job's own code is a step of the timeline (consecutive lines at the same
virtual time are coalesced). A watchdog stops the job after ``time_limit`` s of real time.
"""

from __future__ import annotations

import builtins
import io
import json
import linecache
import os
import sys
import tempfile
import threading
import traceback

JOB_DIR = os.path.dirname(os.path.abspath(__file__))
if JOB_DIR not in sys.path:
    sys.path.insert(0, JOB_DIR)

# imported before the command directories go on sys.path, so no command module shadows them
import _plots  # noqa: E402
import _sim_bluesky  # noqa: E402
import param_errors  # noqa: E402
import scriptserver  # noqa: E402  (the job API)
import sim_isolation  # noqa: E402
import sim_patches  # noqa: E402
from sim_commands import build_commands  # noqa: E402
from sim_state import (  # noqa: E402
    OUTPUT_TAIL,
    DryRunStopped,
    Simulation,
    Tail,
    make_backend,
)


def error_record(exc, filename, sim, time_limit):
    """The dry run's ``error``: type, message, the job's line and a traceback."""
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == filename:
            line = lineno
    line = line if line is not None else sim.line
    halted = sim.isolation.halted if sim.isolation is not None else None
    if halted is not None:  # whatever the job made of the exception afterwards
        return dict(halted)
    if isinstance(exc, DryRunStopped):
        message = f"dry run stopped after {time_limit:g} s of real time at line {line}"
        message += " (an endless loop, or a wait the dry run cannot skip?)"
        return {"type": "DryRunTimeout", "message": message, "line": line, "traceback": ""}
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-8))
    parameter = param_errors.parameter_error(exc)  # a bad value handed to genie_python
    if parameter is not None:
        return {"type": "ParameterError", "message": parameter, "line": line, "traceback": text}
    return {
        "type": type(exc).__name__,
        "message": f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        "line": line,
        "traceback": text[-4000:],
    }


class Run:
    """One dry run: the request, the simulation, the result written exactly once."""

    def __init__(self, request, proto):
        self.request = request
        self.proto = proto
        self.filename = request.get("filename") or "<script>"
        self.source = request.get("source") or ""
        self.time_limit = float(request.get("time_limit") or 10.0)
        self.sim = Simulation(
            self.source,
            int(request.get("max_steps") or 10000),
            int(request.get("max_writes") or 10000),
            request.get("beam"),
        )
        self.own_scratch = not request.get("scratch")
        scratch = request.get("scratch") or tempfile.mkdtemp(prefix="scriptserver-dryrun-")
        self.isolation = sim_isolation.Isolation(
            scratch, {self.filename}, line_of=lambda: self.sim.line
        )
        self.sim.isolation = self.isolation
        self.tail = Tail()
        self.deadline = self.sim.clock.real_monotonic() + self.time_limit
        self.in_job = False
        self.namespace = None
        self._finished = threading.Lock()
        self._written = False
        self._main = threading.main_thread()

    def emit(self, message):
        """Write one JSON line to the parent."""
        self.proto.write(json.dumps(message, ensure_ascii=True, default=repr) + "\n")
        self.proto.flush()

    def finish(self, ok, error):
        """Write the result once (from the main thread or the watchdog)."""
        with self._finished:
            if self._written:
                return
            self._written = True
            sim = self.sim
            ok, error = self.isolated_outcome(ok, error)
            steps = list(sim.steps)
            estimate = round(sim.clock.now(), 3) if ok else None
            output = self.tail.text()
            if sim.notes:
                output += "".join("\n[dry run] " + n for n in sim.notes)
            self.emit(
                {
                    "ok": ok,
                    "estimate": estimate,
                    "steps": steps,
                    "writes": list(sim.writes),
                    "withheld": self.withheld(),
                    "output": output[-OUTPUT_TAIL:],
                    "error": error,
                    "truncated": sim.truncated,
                    "notes": list(sim.notes),
                    "warnings": list(sim.warnings),
                    "calls": list(sim.calls),
                    "beam": sim.beam.record(),
                }
            )

    def isolated_outcome(self, ok, error):
        """The result as the isolation saw it: a halt ends the dry run, whatever the job did.

        A job that failed after an import had an effect refused gets ``DryRunHalted`` too:
        the failure may be the refusal's, not the job's.
        """
        iso = self.isolation
        if iso.halted is not None:
            return False, dict(iso.halted)
        if not ok and iso.refused and not self.sim.stop_requested:  # not the time limit
            error = dict(error or {}, type=sim_isolation.HALT)
            error["message"] = "{} (after the dry run {})".format(
                error.get("message") or "it failed", iso.refused[0]
            )
        return ok, error

    def withheld(self):
        """What the dry run did not do: file effects, then the Channel Access writes."""
        texts = self.isolation.withheld()
        writes = self.sim.writes
        for write in writes[:20]:
            line = write.get("line")
            shown = json.dumps(write.get("value"))
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            where = f" (line {line})" if line else ""
            texts.append("would write `{}` = {}{}".format(write["pv"], shown, where))
        if len(writes) > 20:
            texts.append(f"and {len(writes) - 20} more PV writes")
        return texts

    def trace(self, frame, event, arg):
        """Global trace function: only frames of the job's own code are followed.

        Its globals are looked at first: reading ``frame.f_code`` raises an audit event, and
        the isolation's audit hook would be called for every call of every function.
        """
        if frame.f_globals is self.namespace and frame.f_code.co_filename == self.filename:
            return self.trace_job
        return None

    def trace_job(self, frame, event, arg):
        """Local trace function of job frames: a step per line; stops at the limit."""
        if event == "line":
            self.sim.line_event(frame.f_lineno)
            if self.sim.stop_requested:
                raise DryRunStopped()
            halted = self.isolation.halted
            if halted is not None:  # met in another thread, or swallowed by the job
                raise sim_isolation.DryRunHalted(halted["message"], halted["line"])
        return self.trace_job

    def watchdog(self):
        """Stop the job at the deadline; if it does not stop, report and end the process.

        A dry run whose server is gone ends at once: nobody waits for its verdict, and its
        time limit is only counted inside the job's code (it could run on for ever).
        """
        parent = os.getppid()
        while True:
            if os.getppid() != parent:
                os._exit(0)
            left = self.deadline - self.sim.clock.real_monotonic()
            if left > 0:
                self.sim.clock.real_sleep(min(left, 0.05))
                continue
            if not self.in_job:
                self.deadline = self.sim.clock.real_monotonic() + 0.05
                continue
            self.sim.stop_requested = True
            self.sim.clock.real_sleep(0.5)
            line = self.main_line()
            stopped = error_record(DryRunStopped(), self.filename, self.sim, self.time_limit)
            stopped["line"] = line
            stopped["message"] = stopped["message"].replace("at line None", f"at line {line}")
            self.finish(False, stopped)
            os._exit(0)

    def main_line(self):
        """The job line the main thread is at now (from its stack)."""
        frame = sys._current_frames().get(self._main.ident)
        while frame is not None:
            if frame.f_code.co_filename == self.filename:
                return frame.f_lineno
            frame = frame.f_back
        return self.sim.line

    def run(self):
        """Prelude, then the job under the tracer; returns (ok, error)."""
        sim = self.sim
        self.isolation.install()  # before the prelude and the commands are imported
        sim_patches.install(sim)
        _sim_bluesky.install(sim)  # plans: sleeps on the virtual clock, no writers
        _plots.install()  # no window, no blocking plt.show(), no figure saved
        scriptserver._set_backend(make_backend(sim, scriptserver.Backend))
        builtins.input = _no_input
        sys.stdout = sys.stderr = self.tail
        namespace = self.namespace = {"__name__": "__main__", "__builtins__": builtins}
        if self.filename and not self.filename.startswith("<"):
            namespace["__file__"] = self.filename
        try:
            code = compile(self.source, self.filename, "exec", dont_inherit=True)
        except SyntaxError as exc:
            return False, {
                "type": "SyntaxError",
                "message": f"SyntaxError: {exc.msg}",
                "line": exc.lineno,
                "traceback": "",
            }
        linecache.cache[self.filename] = (
            len(self.source),
            None,
            self.source.splitlines(True),
            self.filename,
        )
        threading.Thread(target=self.watchdog, daemon=True, name="dry-run-watchdog").start()
        try:
            prelude = self.request.get("prelude")
            if prelude:
                prelude_name = self.request.get("prelude_filename") or "<prelude>"
                exec(compile(prelude, prelude_name, "exec", dont_inherit=True), namespace)
        except BaseException as exc:  # noqa: BLE001
            record = error_record(exc, "<none>", sim, self.time_limit)
            record["line"] = None
            record["message"] = "the prelude failed: " + record["message"]
            return False, record
        try:
            namespace.update(
                build_commands(
                    sim,
                    self.request.get("commands") or [],
                    self.request.get("command_dirs") or [],
                )
            )
        except Exception as exc:  # noqa: BLE001
            record = error_record(exc, "<none>", sim, self.time_limit)
            record["line"] = None
            record["message"] = "the commands could not be loaded: " + record["message"]
            return False, record
        sim.reset()
        self.deadline = self.sim.clock.real_monotonic() + self.time_limit
        self.emit({"event": "started"})
        self.in_job = True
        sys.settrace(self.trace)
        try:
            exec(code, namespace)
        except SystemExit as exc:
            if exc.code not in (None, 0):
                return False, error_record(exc, self.filename, sim, self.time_limit)
        except BaseException as exc:  # noqa: BLE001 - every failure is the job's result
            return False, error_record(exc, self.filename, sim, self.time_limit)
        finally:
            sys.settrace(None)
            self.in_job = False
        return True, None


def _no_input(prompt=""):
    raise RuntimeError("input() cannot be answered in a dry run")


def main():
    """Read the request, run the job in simulation, write the result."""
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    request = json.loads(sys.stdin.read() or "{}")
    sys.stdin = io.StringIO("")
    run = Run(request, proto)
    try:
        ok, error = run.run()
    except BaseException as exc:  # noqa: BLE001 - a bug here must still give a result
        ok, error = (
            False,
            {
                "type": "DryRunFailed",
                "message": f"the dry run itself failed: {type(exc).__name__}: {exc}",
                "line": None,
                "traceback": traceback.format_exc()[-4000:],
            },
        )
    run.finish(ok, error)
    proto.flush()
    if run.own_scratch:
        sim_isolation.remove_scratch(run.isolation)
    os._exit(0)  # do not wait for CA contexts or threads the job left behind


if __name__ == "__main__":
    main()
