"""Run one job in this process: ``python launcher.py --key K --runtime DIR [options]``.

Runs inside job processes: standard library only, Python 3.8+, nothing imported from the
rest of the package (its directory is put on ``sys.path`` by running it as a script).

Life of a job process (see docs/runner.md):

1. connect to the server (address and secret from ``--runtime``) and say ``hello``;
2. put the command directories on ``sys.path`` and execute the prelude (``--prelude``) in
   the job's namespace; import the catalogue's command modules; report ``ready``. A warm
   spare waits here, so a job does not pay for interpreter start-up and prelude;
3. on ``run``: send output to the job's log, bind every command by name, hook genie_python,
   compile the job's source, trace its lines (unless black-box) and execute it;
4. write the result to ``<log>.result.json`` (atomically), send ``done``, exit with
   0 (DONE), 1 (FAILED) or 2 (ABORTED).

Options: ``--job-id N`` (a cold start for that job), ``--log PATH`` (where stdout/stderr
point now), ``--prelude PATH``, ``--command-dir DIR`` (repeatable), ``--line-interval S``,
``--trace-mode monitoring|settrace``, ``--server-pid PID`` (the server that started this
process: a spare, or a job not yet told to run, exits when that server is gone).
"""

from __future__ import annotations

import builtins
import linecache
import os
import signal
import sys
import threading
import time
import types

import _bluesky
import _control
import _genie
import _launch_options
import _logfile
import _plots
import _protocol as protocol
import channel
import namespace
import results
import script_edit
import scriptserver
import tracer

CONNECT_TIMEOUT = 30.0
DONE_FLUSH_TIMEOUT = 2.0
WARM_IMPORT_DELAY = 0.3
"""Seconds a spare waits for a job before it imports the command modules ahead."""
SWITCH_INTERVAL = 0.001
"""Seconds a thread may hold the interpreter lock while another wants it (CPython's
default is 0.005): the channel's threads wait at most this long for a busy job thread, so
a pause or an abort is read within a millisecond. Kept if the environment changed it."""
EXIT_CODES = {"DONE": 0, "FAILED": 1, "ABORTED": 2}
JOB_DIR = os.path.dirname(os.path.abspath(__file__))

# Our helper modules must not shadow a user's module of the same name once the job runs.
for _name in (
    "_bluesky",
    "_control",
    "_genie",
    "_interrupt",
    "_launch_options",
    "_logfile",
    "_plan_commands",
    "_plots",
    "_protocol",
    "channel",
    "import_hooks",
    "namespace",
    "results",
    "script_edit",
    "tracer",
):
    sys.modules.pop(_name, None)


class Launcher:
    """Prepares this process, waits for its job, runs it and reports the result."""

    def __init__(self, options):
        self.options = options
        self._run_message = None
        self._run_received = threading.Event()
        self.job_started = False
        self.losses = _logfile.OutputLosses()
        self.link = channel.Link(
            options["runtime"],
            options["key"],
            options["job_id"],
            self._on_control,
            self._on_disconnect,
            options["line_interval"],
        )
        self.control = _control.JobControl(self.link)
        scriptserver._set_backend(self.control)
        self.module = types.ModuleType("__main__")
        self.namespace = self.module.__dict__
        self.namespace["__builtins__"] = builtins
        self.parent_pid = options["server_pid"] or os.getppid()
        self.sampler = None

    # -- receiver thread ----------------------------------------------------------------------

    def _on_control(self, message):
        kind = message.get("type")
        if kind == protocol.RUN:
            if not self.job_started:
                self.job_started = True
                self._run_message = message
                self._run_received.set()
        elif kind == protocol.PAUSE:
            self.control.request_pause(bool(message.get("immediate")))
        elif kind == protocol.RESUME:
            self.control.request_resume()
        elif kind == protocol.ABORT:
            self.control.request_abort(str(message.get("reason") or ""))
        elif kind == protocol.EDIT:
            self._edit(message.get("edit"), str(message.get("source") or ""))
        elif kind == protocol.EXIT and not self.job_started:
            os._exit(0)

    def _edit(self, number, source):
        """Register (or refuse) an edit, then send its receipt (``edit_received``).

        The server completes the put once the edit waits here, so it is applied at the
        next top-level statement.
        """
        editor = self.control.editor
        if editor is None:
            why = "only a traced script that has started can be edited while it runs"
            self.link.send({"type": protocol.EDITED, "edit": number, "ok": False, "message": why})
        else:
            editor.request(number, source)
        self.link.send({"type": protocol.EDIT_RECEIVED, "edit": number})

    def _on_disconnect(self):
        if not self.job_started:  # a spare (or a job never told to run) is not needed
            os._exit(0)

    # -- main thread ------------------------------------------------------------------------

    def main(self):
        """Run the process's life; returns the exit code."""
        if sys.getswitchinterval() == 0.005:  # CPython's default: nobody chose another
            sys.setswitchinterval(SWITCH_INTERVAL)
        _logfile.open_log_streams(self.losses)  # a full disk loses output, not the job
        if JOB_DIR in sys.path:
            sys.path.remove(JOB_DIR)
        sys.path.append(JOB_DIR)  # `import scriptserver` keeps working, last in line
        namespace.add_command_dirs(self.options["command_dirs"])
        self.link.start()
        prelude_error = self._run_prelude()
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while not self.link.welcomed.wait(0.2):
            if time.monotonic() > deadline or self._orphaned():
                sys.stderr.write("scriptserver: no script server reachable; giving up\n")
                return 3
        commands = (self.link.welcome or {}).get("commands") or []
        warm_up(self.options["trace_mode"])
        if (self.options["trace_mode"] or tracer.default_mode()) == tracer.SAMPLED:
            self.sampler = tracer.LineSampler(self.options["line_interval"])
            self.sampler.start()
        self.link.update_state(phase="ready", prelude_error=prelude_error)
        self.link.send({"type": protocol.READY, "prelude_error": prelude_error})
        if commands and prelude_error is None:  # while idle, never delaying a job
            threading.Thread(
                target=self._warm_imports, args=(commands,), name="warm-imports", daemon=True
            ).start()
        run = self._wait_for_run()
        self.link.update_state(job_id=run["job_id"], phase="running")
        self._redirect_output(run["log_path"])
        try:
            result = self._run_job(run, prelude_error)
        except BaseException as exc:  # a failure preparing the job is the job's result
            results.print_exception()
            result = {
                "state": "FAILED",
                "error": results.error_info(exc, run.get("filename"), prefix="preparing the job: "),
            }
        return self._finish(run, result)

    def _warm_imports(self, commands):
        """Import the command modules once this spare has waited ``WARM_IMPORT_DELAY``.

        A spare that gets its job sooner (jobs back to back) imports nothing ahead: those
        imports (genie_python's take about 0.2 s of CPU) would compete with the job.
        """
        if not self._run_received.wait(WARM_IMPORT_DELAY):
            namespace.warm_imports(commands, self._run_received.is_set)

    def _orphaned(self):
        """True if the server that started this process has gone (before its job)."""
        return os.getppid() != self.parent_pid

    def _wait_for_run(self):
        while not self._run_received.wait(0.5):
            if self._orphaned() and not self.link.connected:
                os._exit(0)  # a spare of a dead server, not connected to a new one
        return self._run_message

    def _run_prelude(self):
        path = self.options["prelude"]
        if not path:
            return None
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
            code = compile(source, path, "exec")
            exec(code, self.namespace)
        except BaseException as exc:  # any failure of the prelude fails the job
            results.print_exception()
            return results.error_info(exc, path, prefix=f"the prelude {path} failed: ")
        return None

    def _redirect_output(self, log_path):
        current = self.options["log"]
        if current and os.path.abspath(current) == os.path.abspath(log_path):
            return
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # private
        except OSError as exc:  # e.g. a full disk: the output goes on where it went
            self.losses.note(f"cannot open its log {log_path} ({exc}); output went to {current}")
            return
        if current:
            try:
                with open(current, "rb") as spare_output:  # prelude output belongs to the job
                    while True:
                        chunk = spare_output.read(65536)
                        if not chunk:
                            break
                        os.write(fd, chunk)
                os.unlink(current)
            except OSError:
                pass
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)

    def _run_job(self, run, prelude_error):
        if prelude_error is not None:
            return {"state": "FAILED", "error": prelude_error}
        filename, source = run["filename"], run["source"]
        self.namespace.update(
            namespace.build_namespace(run.get("commands") or [], self.options["command_dirs"])
        )
        _genie.install()
        _bluesky.install(self.control)
        self.control.figures = _plots.Figures(protocol.plots_dir(run["log_path"]), self._plotted)
        _plots.install()
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            code = compile(source, filename, "exec")
        except (SyntaxError, ValueError) as exc:
            return {"state": "FAILED", "error": results.error_info(exc, filename)}
        if os.path.isfile(filename):
            self.namespace["__file__"] = filename
        sys.modules["__main__"] = self.module
        sys.argv = [filename]
        line_tracer = None
        if not run.get("blackbox"):
            line_tracer = tracer.LineTracer(
                filename,
                self.link.set_line,
                self.control.checkpoint,
                self.control.requested,
                self.options["trace_mode"],
                self.sampler,
            )
            self.control.tracer = line_tracer
        if line_tracer is not None and run.get("kind") == "script":
            self.control.editor = script_edit.ScriptEditor(
                filename, source, code, self.link.send, self.control.edit_waiting
            )
        signal.signal(signal.SIGTERM, self._terminated)
        if run.get("paused"):  # a deferred pause left by the previous job: before line 1
            self.control.request_pause()
        self.link.send({"type": protocol.RUNNING})
        try:
            self.control.enter_job(filename)
            if line_tracer is not None:
                line_tracer.install(code)
            self._execute(code, line_tracer)
            outcome = {"state": "DONE", "error": None}
        except scriptserver.JobAborted as exc:
            outcome = {"state": "ABORTED", "error": results.error_info(exc, filename)}
        except SystemExit as exc:
            if exc.code in (None, 0):
                outcome = {"state": "DONE", "error": None}
            else:
                outcome = {"state": "FAILED", "error": results.error_info(exc, filename)}
        except BaseException as exc:  # everything a job raises is its result
            outcome = {"state": "FAILED", "error": results.error_info(exc, filename)}
        finally:
            self.control.leave_job()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            self.control.figures.save_open(changed_only=True)
            if line_tracer is not None:
                line_tracer.uninstall()
        if outcome["state"] == "FAILED" and self.control.aborting:
            outcome["state"] = "ABORTED"
        return outcome

    def _execute(self, code, line_tracer):
        """Execute the job's code, then the rest of each edit of it (``script_edit``)."""
        editor = self.control.editor
        while True:
            try:
                exec(code, self.namespace)
            except script_edit.ScriptEdited as edited:
                code = edited.code
            else:
                code = editor.at_end() if editor is not None else None
                if code is None:
                    return
            line_tracer.add(code)

    def _plotted(self, path):
        self.link.send({"type": protocol.PLOT, "path": path})

    def _terminated(self, signum, frame):
        self.control.terminated()

    def _finish(self, run, result):
        error = result.get("error") or {}
        if result["state"] == "FAILED" and error.get("traceback"):
            # the log ends as a console would: the last output, then the traceback
            try:
                sys.stdout.flush()
                sys.stderr.write(error["traceback"].rstrip("\n") + "\n")
            except (OSError, ValueError):
                pass
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        result = dict(result, job_id=run["job_id"], exit_code=EXIT_CODES[result["state"]])
        path = run.get("result_path") or run["log_path"] + ".result.json"
        if self.losses.report():
            result["log_error"] = self.losses.report()
        problem = results.write_atomically(path, result)
        if problem:  # the done message below still carries the result
            self.losses.note(problem)
            result["log_error"] = self.losses.report()
        self.link.update_state(phase="finished", result=result)
        self.link.send_urgent(dict(result, type=protocol.DONE))
        if self.link.connected:  # else the result file is the record; no reason to linger
            self.link.flush(DONE_FLUSH_TIMEOUT)
        return result["exit_code"]


def warm_up(trace_mode):
    """Import ahead what a job's control needs, so a pause or an abort does not wait for it.

    ``ctypes`` (the sampled tracer's pending calls), ``traceback`` and ``tokenize`` (an
    aborted or failed job's error record, with its lines): about 7 ms, paid while the
    process waits for its job.
    """
    if trace_mode in (None, tracer.SAMPLED):
        tracer.pending_calls()
    import tokenize  # noqa: F401
    import traceback  # noqa: F401


def main(argv=None):
    """Entry point: run the process's life and exit without waiting for stray threads."""
    launcher = Launcher(_launch_options.parse_args(sys.argv[1:] if argv is None else argv))
    code = launcher.main()
    run_exit_functions = getattr(__import__("atexit"), "_run_exitfuncs", None)
    if run_exit_functions is not None:
        try:
            run_exit_functions()
        except BaseException:  # the result is already recorded
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
