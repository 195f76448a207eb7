"""Run command companions (``validate_<name>``, ``estimate_<name>``, DoRun checks).

Companions are user code: they run in a warm worker subprocess (``job/checker.py`` under the
job interpreter), never in the IOC process. The worker is started on first use, restarted
when the catalogue revision changes (so edited modules are re-imported) and after a timeout or
a crash. One request at a time (one lock); a call costs a pipe round trip (well under a
millisecond) once the worker is warm.
"""

from __future__ import annotations

import collections
import json
import logging
import queue
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CHECKER_PATH = Path(__file__).resolve().parent.parent / "job" / "checker.py"


class CompanionError(Exception):
    """A companion could not be run (import failure, timeout, crash); the message says why."""


@dataclass
class CompanionResult:
    """What a command's companions said about one set of bound arguments.

    Attributes:
        error: the validation message (the job must be rejected), or None if valid.
        estimate: declared duration in seconds, or None.
        problem: why the estimate could not be made (a warning), or None.
    """

    error: str | None = None
    estimate: float | None = None
    problem: str | None = None


def command_entry(command: Any) -> dict:
    """The ``job_commands()`` dict of a catalogue Command (or such a dict)."""
    if isinstance(command, dict):
        entry = {k: command.get(k) for k in ("name", "module", "path", "kind")}
        entry["enum_params"] = dict(command.get("enum_params") or {})
        return entry
    return {
        "name": command.name,
        "module": getattr(command, "module", None),
        "path": str(command.path),
        "kind": getattr(command, "kind", "function"),
        "enum_params": dict(getattr(command, "enum_params", None) or {}),
    }


class _Worker:
    """One checker process with threads draining its stdout (answers) and stderr (log)."""

    def __init__(self, job_python: str, command_dirs: list[str]) -> None:
        try:
            self.proc = subprocess.Popen(
                [job_python, str(CHECKER_PATH)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise CompanionError(
                f"cannot start the job interpreter {job_python!r} for command checks: {exc}"
            ) from None
        self.answers: queue.Queue[dict | None] = queue.Queue()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=8)
        threading.Thread(target=self._read_answers, daemon=True, name="checker-out").start()
        threading.Thread(target=self._read_stderr, daemon=True, name="checker-err").start()
        self.send({"command_dirs": [str(d) for d in command_dirs]})
        self.ready = False
        self.loaded: set[tuple] = set()  # (module, path) imported (or failed) in this worker

    def _read_answers(self) -> None:
        for raw in self.proc.stdout:  # type: ignore[union-attr]
            try:
                self.answers.put(json.loads(raw))
            except ValueError:
                logger.warning("checker wrote a line that is not JSON: %r", raw[:200])
        self.answers.put(None)

    def _read_stderr(self) -> None:
        for raw in self.proc.stderr:  # type: ignore[union-attr]
            line = raw.decode("utf-8", "replace").rstrip()
            self.stderr_tail.append(line)
            logger.debug("checker: %s", line)

    def send(self, message: dict) -> None:
        data = (json.dumps(message, ensure_ascii=True, default=repr) + "\n").encode("ascii")
        try:
            self.proc.stdin.write(data)  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except OSError:
            pass  # the process died; the reader reports it as end of stream

    def receive(self, deadline: float) -> dict | None:
        """Next answer; None if the process ended. Raises queue.Empty at the deadline."""
        return self.answers.get(timeout=max(0.0, deadline - time.monotonic()))

    def died_because(self) -> str:
        try:
            code = self.proc.wait(timeout=2)  # its output closed: it is exiting
        except subprocess.TimeoutExpired:
            code = None
        tail = " | ".join(line for line in self.stderr_tail if line)[-500:]
        what = f"exited with code {code}" if code is not None else "closed its output"
        return what + (f": {tail}" if tail else "")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            logger.error("checker pid %s did not exit after kill", self.proc.pid)
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass  # the readers close stdout/stderr when they reach the end


class CompanionRunner:
    """Runs companions in a warm worker process; thread-safe.

    Called from the IOC's server thread (and the validator's callers): every public method
    takes the one lock, so requests never interleave on the pipe.

    Args:
        job_python: interpreter that runs jobs (the worker must import modules like a job).
        command_dirs: the command directories (put on the worker's ``sys.path``).
        timeout: seconds one companion call may take before the worker is killed.
        start_timeout: seconds the worker may take to start (interpreter start-up).
    """

    def __init__(
        self,
        job_python: str,
        command_dirs: list[str] | list[Path],
        timeout: float = 5.0,
        start_timeout: float = 30.0,
    ) -> None:
        self.job_python = job_python
        self.command_dirs = [str(d) for d in command_dirs]
        self.timeout = timeout
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._revision: object = None
        self._next_id = 0
        self.restarts = 0

    def start(self, revision: object = None) -> None:
        """Start the worker now (optional: the first call starts it otherwise)."""
        with self._lock:
            self._ensure_worker(revision)

    def preload(self, commands: list[Any], *, revision: object = None) -> list[str]:
        """Start the worker for ``revision`` and import the modules of ``commands`` now.

        Call it from a background thread (the catalogue watcher) after the catalogue
        changes, so the first check of an edited command does not pay for the interpreter
        start and the imports on the IOC's server thread.

        Returns:
            The import problems (one message per module that cannot be imported).
        """
        problems = []
        for command in commands:
            entry = command_entry(command)
            with self._lock:
                worker = self._ensure_worker(revision)
                key = (entry.get("module"), entry.get("path"))
                if key in worker.loaded:
                    continue
                try:
                    answer = self._exchange(
                        worker,
                        {"op": "load", "command": entry},
                        self.start_timeout,
                        f"importing the module of {entry['name']} did not finish within "
                        f"{self.start_timeout:g} s and was stopped",
                    )
                except CompanionError as exc:
                    problems.append(str(exc))
                    continue
                worker.loaded.add(key)
                if not answer.get("ok"):
                    problems.append(answer.get("fatal") or f"cannot import {entry['module']}")
        return problems

    def check(
        self,
        command: Any,
        args: dict,
        *,
        revision: object = None,
        validate: bool = True,
        estimate: bool = True,
    ) -> CompanionResult:
        """Run the command's validate and/or estimate companion on bound arguments.

        Args:
            command: a catalogue Command or its ``job_commands()`` dict.
            args: the bound arguments (keyword form).
            revision: the catalogue revision; a new value restarts the worker first.
            validate: run ``validate_<name>`` / ``parameters_valid``.
            estimate: run ``estimate_<name>`` / ``estimate_time`` (only if valid).

        Raises:
            CompanionError: the module cannot be imported, or the companion hung or crashed
                the worker (which is then restarted).
        """
        entry = command_entry(command)
        request = {"op": "check", "command": entry, "args": args}
        request.update(validate=validate, estimate=estimate)
        label = entry["name"]
        answer = self._call(request, revision, f"the checks of {label}", load=entry)
        if not answer.get("ok"):
            raise CompanionError(answer.get("fatal") or f"the checks of {label} failed")
        return CompanionResult(answer.get("error"), answer.get("estimate"), answer.get("problem"))

    def module_names(self, module: str, *, revision: object = None) -> list[str]:
        """Names ``from <module> import *`` binds in the job interpreter.

        Raises:
            CompanionError: the module cannot be imported there.
        """
        with self._lock:
            worker = self._ensure_worker(revision)
            answer = self._exchange(
                worker,
                {"op": "module_names", "module": module},
                self.start_timeout,
                f"importing {module} did not finish within {self.start_timeout:g} s",
                f"importing {module}",
            )
        if not answer.get("ok"):
            raise CompanionError(answer.get("fatal") or f"cannot list the names of {module}")
        return list(answer["names"])

    def close(self) -> None:
        """Stop the worker (it is restarted by the next call)."""
        with self._lock:
            self._stop_worker()

    def _call(self, request: dict, revision: object, what: str, load: dict | None = None) -> dict:
        with self._lock:
            worker = self._ensure_worker(revision)
            module_key = (load.get("module"), load.get("path")) if load else None
            if module_key is not None and module_key not in worker.loaded:
                # importing a module (genie_python, numpy, ...) may take seconds on a slow
                # machine: it gets the start-up allowance, not the check's time limit
                self._exchange(
                    worker,
                    {"op": "load", "command": load},
                    self.start_timeout,
                    f"importing the module of {load.get('name')} did not finish within "
                    f"{self.start_timeout:g} s and was stopped",
                )
                worker.loaded.add(module_key)
            return self._exchange(
                worker,
                request,
                self.timeout,
                f"{what} did not finish within {self.timeout:g} s and were stopped; "
                "a check must return quickly (no waiting on hardware)",
                what,
            )

    def _exchange(
        self, worker: _Worker, request: dict, limit: float, late: str, what: str | None = None
    ) -> dict:
        """Send one request and wait for its answer (lock held); restart the worker on trouble."""
        what = what or request.get("op", "a request")
        self._next_id += 1
        request["id"] = self._next_id
        worker.send(request)
        try:
            answer = worker.receive(time.monotonic() + limit)
        except queue.Empty:
            self._restart()
            raise CompanionError(late) from None
        if answer is None:
            reason = worker.died_because()
            self._restart()
            raise CompanionError(f"the command checker crashed while running {what} ({reason})")
        if answer.get("id") != request["id"]:
            self._restart()
            raise CompanionError(f"the command checker answered out of turn for {what}")
        return answer

    def _ensure_worker(self, revision: object) -> _Worker:
        if self._worker is not None and revision is not None and revision != self._revision:
            logger.info("catalogue revision %s: restarting the command checker", revision)
            self._restart()
        if revision is not None:
            self._revision = revision
        if self._worker is None:
            self._worker = _Worker(self.job_python, self.command_dirs)
        worker = self._worker
        if not worker.ready:
            try:
                hello = worker.receive(time.monotonic() + self.start_timeout)
            except queue.Empty:
                self._stop_worker()
                raise CompanionError(
                    f"the command checker ({self.job_python}) did not start within "
                    f"{self.start_timeout:g} s"
                ) from None
            if not hello or not hello.get("ready"):
                reason = worker.died_because()
                self._stop_worker()
                raise CompanionError(f"the command checker could not start ({reason})")
            worker.ready = True
        return worker

    def _restart(self) -> None:
        """Kill the worker and start a fresh one at once (it warms up in the background)."""
        self._stop_worker()
        self.restarts += 1
        try:
            self._worker = _Worker(self.job_python, self.command_dirs)
        except CompanionError as exc:
            logger.error("%s", exc)

    def _stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
