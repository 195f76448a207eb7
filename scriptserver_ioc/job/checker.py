"""Warm worker that runs command companions (validate_/estimate_, DoRun checks).

Started by ``scriptserver_ioc.validate.companions`` with the job interpreter, so command
modules are imported exactly as a job would import them, but never in the IOC process.
Standard library only, Python 3.8+.

Protocol: JSON lines. The first line on stdin is the configuration
``{"command_dirs": [...], "progress": path}``; the worker answers
``{"ready": true, "pid", "python"}``. Then one request per line, one answer per line, in
order:

- ``{"id", "op": "check", "command": {"name", "module", "path", "kind", "enum_params"},
  "args": {...},
  "validate": bool, "estimate": bool}`` ->
  ``{"id", "ok": true, "error": str|None, "estimate": float|None, "problem": str|None}``
  (``error``: the validation message; ``problem``: why no estimate could be made), or
  ``{"id", "ok": false, "fatal": str}`` when the command's module cannot be used.
- ``{"id", "op": "check_many", "commands": [entry, ...], "items": [[command_index, args,
  validate, estimate], ...]}`` -> ``{"id", "ok": true, "answers": [answer, ...]}``, one
  answer per item in order, each shaped like the answer of ``check`` without ``id``.
- ``{"id", "op": "load", "command": {...}}`` -> ``{"id", "ok": true}`` or ``"fatal"``: import
  the command's module first (slow imports have a longer limit than checks).
- ``{"id", "op": "module_names", "module": "pkg.mod"}`` ->
  ``{"id", "ok": true, "names": [...]}``: what ``from pkg.mod import *`` would bind.
- ``{"id", "op": "attributes", "module": "genie_python.genie"}`` ->
  ``{"id", "ok": true, "names": [...]}``: every attribute of the module (``dir``, and a
  package's submodules); ``__getattr__`` among them means it makes more on demand.
- ``{"id", "op": "describe", "modules": [...]}`` -> ``{"id", "ok": true, "modules": [...]}``:
  import command modules and describe names from their live objects (``_describe``). With
  ``"stream": true, "slow_after": s``, events ``{"id", "started" | "described" | "slow" |
  "alive": ...}`` come first, as each module is imported (``_describe_pool``), then the
  answer.
- ``{"id", "op": "ping"}`` -> ``{"id", "ok": true}``.

Anything command modules print goes to stderr, never into the protocol stream.

The worker is isolated like a dry run (``sim_isolation``, installed before any command module
is imported): a companion's file writes go to a scratch overlay, removals are not done, and
a companion that runs a program or talks to the network is stopped there; its job gets the
``problem`` ``not checked: validate_x runs a program (`x`); ...``, never an error.

Progress of a batch: ``progress`` names a file of at least ``PROGRESS_SIZE`` bytes made by the
server. Before each item of a ``check_many`` the worker writes ``(request id, item index,
item index, request id)`` there (four little-endian int64, through a shared memory map, so
it costs no system call and survives a crash or a kill), and ``(id, count, count, id)`` once
the batch is done. The server reads it to tell which item hung or crashed the worker.
"""

from __future__ import annotations

import importlib
import json
import mmap
import os
import pkgutil
import struct
import sys
import tempfile
import threading
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _checker_protocol as ops  # noqa: E402
import sim_isolation  # noqa: E402
import sim_loader  # noqa: E402

PROGRESS = struct.Struct("<qqqq")
PROGRESS_SIZE = PROGRESS.size


def _short_exception(exc):
    return f"{type(exc).__name__}: {exc}"


class Progress:
    """The batch progress record shared with the server (a no-op without a file)."""

    def __init__(self, path):
        self._map = None
        if not path:
            return
        try:
            with open(path, "r+b") as handle:
                self._map = mmap.mmap(handle.fileno(), PROGRESS_SIZE)
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"checker: no batch progress record ({exc})\n")

    def mark(self, request_id, index):
        """Record that item ``index`` of request ``request_id`` starts now."""
        if self._map is not None:
            self._map[0:PROGRESS_SIZE] = PROGRESS.pack(request_id, index, index, request_id)


class NotCheckable(Exception):
    """A command module that cannot be imported without what a check may not do."""


class Checker:
    """Answers check requests; remembers modules that failed to import."""

    def __init__(self, progress=None, command_dirs=(), isolation=None, emit=None):
        self.isolation = isolation
        self.emit = emit  # writes one line to the server (any thread), for events
        self.command_dirs = list(command_dirs)
        self._modules = {}
        self._failed = {}
        self._progress = progress or Progress(None)

    def _module(self, entry):
        """The command's module (imported once); CommandLoadError is remembered."""
        key = (entry.get("module"), entry.get("path"))
        module = self._modules.get(key)
        if module is not None:
            return module
        if key in self._failed:
            raise sim_loader.CommandLoadError(self._failed[key])
        refused = len(self.isolation.refused) if self.isolation else 0
        try:
            module = self._modules[key] = sim_loader.load_module(entry)
        except sim_loader.CommandLoadError as exc:
            if self.isolation and len(self.isolation.refused) > refused:
                # the module needs what a check may not do: not checkable, not wrong
                raise NotCheckable(f"{exc} ({self.isolation.refused[refused]})") from None
            self._failed[key] = str(exc)
            raise
        return module

    def load(self, request):
        """Import a command's module (its own step, so slow imports get their own limit)."""
        try:
            self._module(request["command"])
        except NotCheckable:
            return {"ok": True}  # its checks answer why they were not made
        except sim_loader.CommandLoadError as exc:
            return {"ok": False, "fatal": str(exc)}
        return {"ok": True}

    def check(self, request):
        """Run the companions of one command on bound arguments."""
        entry = request["command"]
        args = request.get("args") or {}
        global_params = None
        if entry.get("kind") == sim_loader.SCRIPT_DEFINITION and "global_params" in args:
            args = dict(args)
            global_params = args.pop("global_params")
        try:
            module = self._module(entry)
            validate, estimate = sim_loader.companions(entry, module, global_params)
            if entry.get("kind") != sim_loader.SCRIPT_DEFINITION:
                args = sim_loader.enum_arguments(entry, module, args)
        except NotCheckable as exc:
            return {"ok": True, "error": None, "estimate": None, "problem": f"not checked: {exc}"}
        except sim_loader.CommandLoadError as exc:
            return {"ok": False, "fatal": str(exc)}
        answer = {"ok": True, "error": None, "estimate": None, "problem": None}
        if request.get("validate") and validate is not None:
            label = sim_loader.companion_label(entry, "validate")
            try:
                answer["error"] = sim_loader.check_message(label, validate(**args))
            except sim_isolation.DryRunHalted as halt:
                answer["problem"] = f"{label} {halt.reason}"
                return answer
            except Exception as exc:  # noqa: BLE001 - the check itself failed
                answer["error"] = f"{label} raised {_short_exception(exc)}"
        if request.get("estimate") and estimate is not None and answer["error"] is None:
            label = sim_loader.companion_label(entry, "estimate")
            try:
                seconds, problem = sim_loader.estimate_seconds(label, estimate(**args))
            except sim_isolation.DryRunHalted as halt:
                seconds, problem = None, f"{label} {halt.reason}"
            except Exception as exc:  # noqa: BLE001
                seconds, problem = None, f"{label} raised {_short_exception(exc)}"
            answer["estimate"] = seconds
            answer["problem"] = problem
        return answer

    def check_many(self, request):
        """Run the companions of many commands, in order; one answer per item."""
        commands = request.get("commands") or []
        request_id = request.get("id") or 0
        answers = []
        items = request.get("items") or []
        for index, (command_index, args, validate, estimate) in enumerate(items):
            self._progress.mark(request_id, index)
            item = {"command": commands[command_index], "args": args}
            item.update(validate=validate, estimate=estimate)
            try:
                answers.append(self.check(item))
            except Exception:  # noqa: BLE001 - one item's trouble is that item's answer
                fatal = "checker failed: " + traceback.format_exc(limit=3)
                answers.append({"ok": False, "fatal": fatal})
        self._progress.mark(request_id, len(items))
        return {"ok": True, "answers": answers}

    def module_names(self, request):
        """Names a star import of the module would bind."""
        try:
            module = importlib.import_module(request["module"])
        except (Exception, SystemExit) as exc:
            return {
                "ok": False,
                "fatal": "cannot import {}: {}".format(request["module"], _short_exception(exc)),
            }
        names = getattr(module, "__all__", None)
        if names is None:
            names = [n for n in vars(module) if not n.startswith("_")]
        return {"ok": True, "names": [str(n) for n in names]}

    def attributes(self, request):
        """Every attribute of a module (what ``module.<name>`` may read)."""
        try:
            module = importlib.import_module(request["module"])
        except (Exception, SystemExit) as exc:
            return {
                "ok": False,
                "fatal": "cannot import {}: {}".format(request["module"], _short_exception(exc)),
            }
        names = set(dir(module))
        # a package's submodules are its attributes once imported (`import inst.sans`)
        for found in pkgutil.iter_modules(getattr(module, "__path__", None) or []):
            names.add(found.name)
        return {"ok": True, "names": sorted(str(n) for n in names)}

    def handle(self, request):
        """Dispatch one request; never raises."""
        op = request.get("op")
        try:
            if op == ops.CHECK:
                answer = self.check(request)
            elif op == ops.CHECK_MANY:
                answer = self.check_many(request)
            elif op == ops.LOAD:
                answer = self.load(request)
            elif op == ops.MODULE_NAMES:
                answer = self.module_names(request)
            elif op == ops.ATTRIBUTES:
                answer = self.attributes(request)
            elif op == ops.DESCRIBE:
                import _describe

                emit = None
                if self.emit is not None:
                    request_id = request.get("id")
                    emit = lambda event: self.emit(dict(event, id=request_id))  # noqa: E731
                answer = _describe.describe_modules(request, self.command_dirs, emit)
            elif op == ops.PING:
                answer = {"ok": True}
            else:
                answer = {"ok": False, "fatal": f"unknown op {op!r}"}
        except Exception:  # noqa: BLE001 - a bug here must not kill the worker
            answer = {"ok": False, "fatal": "checker failed: " + traceback.format_exc(limit=3)}
        answer["id"] = request.get("id")
        return answer


def _end_with_server(isolation, every=0.5):
    """End the worker once its server is gone (POSIX: the parent process changes).

    Its stdin closing ends it too, but only between requests: a module that blocks at
    import, or a companion that never returns, would otherwise keep it alive for ever.
    """
    parent, tick = os.getppid(), threading.Event()
    while os.getppid() == parent:
        tick.wait(every)  # a real wait: the isolation leaves threading's waits alone
    sim_isolation.remove_scratch(isolation)
    os._exit(0)


def main():
    """Serve requests from stdin until it closes, or its server is gone."""
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    config = json.loads(sys.stdin.readline() or "{}")
    progress = Progress(config.get("progress"))  # opened before the isolation
    scratch = tempfile.mkdtemp(prefix="scriptserver-checker-")
    isolation = sim_isolation.Isolation(scratch, subject="")
    isolation.install()
    threading.Thread(target=_end_with_server, args=(isolation,), daemon=True).start()
    sim_loader.add_command_dirs(config.get("command_dirs", []))
    writing = threading.Lock()  # describe's events come from several threads

    def write(message):
        line = json.dumps(message, default=repr) + "\n"
        with writing:
            proto.write(line)
            proto.flush()

    checker = Checker(progress, config.get("command_dirs", []), isolation, emit=write)
    write({"ready": True, "pid": os.getpid(), "python": sys.version})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as exc:
            answer = {"id": None, "ok": False, "fatal": f"bad request: {exc}"}
        else:
            answer = checker.handle(request)
        write(answer)
    sim_isolation.remove_scratch(isolation)


if __name__ == "__main__":
    main()
