"""Run command companions (``validate_<name>``, ``estimate_<name>``, DoRun checks).

Companions are user code: they run in a warm worker subprocess (``job/checker.py`` under the
job interpreter), never in the IOC process. The worker is started on first use, restarted
when the catalogue revision changes (so edited modules are re-imported) and after a timeout or
a crash. One request at a time (one lock); a call costs a pipe round trip (well under a
millisecond) once the worker is warm, and ``check_many`` checks a whole batch of jobs in one
round trip.
"""

from __future__ import annotations

import collections
import json
import logging
import mmap
import os
import queue
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

logger = logging.getLogger(__name__)

CHECKER_PATH = Path(__file__).resolve().parent.parent / "job" / "checker.py"
# the batch progress record of job/checker.py: (request id, index, index, request id)
PROGRESS = struct.Struct("<qqqq")


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
        self._progress_path, self._progress = _progress_record()
        self.send({"command_dirs": [str(d) for d in command_dirs], "progress": self._progress_path})
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

    def started(self) -> None:
        """The worker said it is ready, so it has mapped the progress record's file."""
        self.ready = True
        if os.name == "posix" and self._progress_path is not None:
            self._remove_progress_file()  # nothing is left behind if the IOC is killed

    def _remove_progress_file(self) -> None:
        try:
            os.unlink(self._progress_path)  # type: ignore[arg-type]
        except OSError:
            logger.warning("cannot remove %s", self._progress_path)
        self._progress_path = None

    def progress(self, request_id: int) -> int | None:
        """Index of the item of batch ``request_id`` the worker started last, if known.

        The batch's length once it is done; None before it starts or without a record.
        """
        if self._progress is None:
            return None
        first, index, again, last = PROGRESS.unpack(self._progress[: PROGRESS.size])
        return index if first == last == request_id and index == again else None

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
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        if self._progress_path is not None:
            self._remove_progress_file()


def _progress_record() -> tuple[str | None, mmap.mmap | None]:
    """A zeroed file for the worker's batch progress record, and its map (None on failure)."""
    path = None
    try:
        descriptor, path = tempfile.mkstemp(prefix="scriptserver-checker-", suffix=".progress")
        try:
            os.write(descriptor, bytes(PROGRESS.size))
            return path, mmap.mmap(descriptor, PROGRESS.size)
        finally:
            os.close(descriptor)
    except (OSError, ValueError) as exc:
        logger.warning("no batch progress record for the command checker: %s", exc)
        if path is not None:
            try:
                os.unlink(path)
            except OSError:
                pass
        return None, None


class CompanionRunner:
    """Runs companions in a warm worker process; thread-safe.

    Called from the IOC's server thread (and the validator's callers): every public method
    takes the one lock, so requests never interleave on the pipe.

    Args:
        job_python: interpreter that runs jobs (the worker must import modules like a job).
        command_dirs: the command directories (put on the worker's ``sys.path``).
        timeout: seconds one companion call may take before the worker is killed.
        start_timeout: seconds the worker may take to start (interpreter start-up).
        item_allowance: seconds per job added to ``timeout`` to limit one batch exchange.
        chunk_size: at most this many jobs in one batch message.
    """

    #: hangs and crashes in one ``check_many`` after which its other jobs are not checked
    max_batch_failures = 3

    def __init__(
        self,
        job_python: str,
        command_dirs: list[str] | list[Path],
        timeout: float = 5.0,
        start_timeout: float = 30.0,
        *,
        item_allowance: float = 0.01,
        chunk_size: int = 500,
    ) -> None:
        self.job_python = job_python
        self.command_dirs = [str(d) for d in command_dirs]
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.item_allowance = item_allowance
        self.chunk_size = max(1, int(chunk_size))
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

    def check_many(
        self,
        items: list[tuple],
        *,
        revision: object = None,
        validate: bool = True,
        estimate: bool = True,
    ) -> list[CompanionResult | CompanionError]:
        """Run the companions of many commands in one round trip per chunk of jobs.

        Keeps the guarantees of ``check``: modules are imported first with the start-up
        allowance (one attempt per module; an import that fails or hangs is the error of
        that module's items only); each companion may take ``timeout`` seconds, and one
        exchange ``timeout + item_allowance * len(chunk)`` in all. A companion that hangs or
        crashes the worker gets the error ``check`` would raise; the worker is restarted
        and the chunk's other items are checked again (their answers were lost with the
        worker). After ``max_batch_failures`` hangs or crashes the remaining items are not
        checked and say so.

        Args:
            items: ``(command, args)`` pairs (a catalogue Command or its ``job_commands()``
                dict, and the bound arguments), or ``(command, args, validate, estimate)``
                to choose the companions per item.
            revision: the catalogue revision; a new value restarts the worker first.
            validate: run the validate companions (items without their own flags).
            estimate: run the estimate companions (items without their own flags).

        Returns:
            One outcome per item, in order: a CompanionResult, or the CompanionError that
            ``check`` would have raised.
        """
        batch = []
        entries: dict[int, dict] = {}  # by id(command): a batch repeats a few commands
        for item in items:
            command, args, *flags = item
            wants = (bool(flags[0]), bool(flags[1])) if flags else (validate, estimate)
            entry = entries.get(id(command))
            if entry is None:
                entry = entries[id(command)] = command_entry(command)
            batch.append(_Item(entry, args, *wants, (entry.get("module"), entry.get("path"))))
        return _Batch(self, batch, revision).run()

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
            worker.started()
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


_POLL = 0.1  # how often the progress of a long batch exchange is looked at, seconds


class _Item(NamedTuple):
    """One item of a batch: the command's entry, its bound arguments, which companions."""

    entry: dict
    args: dict
    validate: bool
    estimate: bool
    module_key: tuple  # (module, path), what ``load`` imports


class _Batch:
    """One ``check_many`` call: chunks, module loads, retries after a hang or a crash."""

    def __init__(self, runner: CompanionRunner, items: list[_Item], revision: object) -> None:
        self.runner = runner
        self.items = items
        self.revision = revision
        self.results: list[CompanionResult | CompanionError | None] = [None] * len(items)
        self.failures = 0
        self.last_failure = ""

    def run(self) -> list[CompanionResult | CompanionError]:
        runner = self.runner
        try:
            for start in range(0, len(self.items), runner.chunk_size):
                pending = list(range(start, min(len(self.items), start + runner.chunk_size)))
                while pending and self.failures < runner.max_batch_failures:
                    pending = self._attempt(pending)
        except CompanionError as exc:  # the worker cannot start: nothing more can be checked
            self._fill(exc)
        self._fill(
            CompanionError(
                f"not checked: the command checker was stopped {self.failures} times while "
                f"checking this batch (the last: {self.last_failure}); add this job on its own"
            )
        )
        return self.results  # type: ignore[return-value]

    def _fill(self, error: CompanionError) -> None:
        for i, result in enumerate(self.results):
            if result is None:
                self.results[i] = error

    def _fail(self, indices: list[int], error: CompanionError) -> None:
        for i in indices:
            self.results[i] = error

    def _attempt(self, pending: list[int]) -> list[int]:
        """Check ``pending`` in one exchange (lock held); returns the items to try again."""
        runner = self.runner
        with runner._lock:
            worker, pending = self._load_modules(pending)
            if not pending:
                return []
            commands: list[dict] = []
            where: dict[tuple, int] = {}
            rows = []
            for i in pending:
                item = self.items[i]
                key = (item.entry["name"], *item.module_key, item.entry.get("kind"))
                if key not in where:
                    where[key] = len(commands)
                    commands.append(item.entry)
                rows.append([where[key], item.args, item.validate, item.estimate])
            runner._next_id += 1
            request_id = runner._next_id
            worker.send({"id": request_id, "op": "check_many", "commands": commands, "items": rows})
            answer, trouble, index = self._await(worker, request_id, len(rows))
            if answer is not None:
                self._take(pending, answer, request_id)
                return []
            return self._recover(worker, pending, trouble, index)

    def _load_modules(self, pending: list[int]) -> tuple[_Worker, list[int]]:
        """Import the modules of ``pending`` not yet imported, one ``load`` each (as ``check``)."""
        runner = self.runner
        worker = runner._ensure_worker(self.revision)
        while True:
            missing = next(
                (self.items[i] for i in pending if self.items[i].module_key not in worker.loaded),
                None,
            )
            if missing is None:
                return worker, pending
            try:
                runner._exchange(
                    worker,
                    {"op": "load", "command": missing.entry},
                    runner.start_timeout,
                    f"importing the module of {missing.entry.get('name')} did not finish within "
                    f"{runner.start_timeout:g} s and was stopped",
                )
                worker.loaded.add(missing.module_key)
            except CompanionError as exc:  # that module's items only; the worker restarted
                self._note_failure(str(exc))
                failed = [i for i in pending if self.items[i].module_key == missing.module_key]
                self._fail(failed, exc)
                pending = [i for i in pending if self.items[i].module_key != missing.module_key]
                worker = runner._ensure_worker(self.revision)

    def _await(
        self, worker: _Worker, request_id: int, count: int
    ) -> tuple[dict | None, str | None, int | None]:
        """``(answer, None, None)``, or ``(None, "hang" | "slow" | "crash", item index)``.

        An item running for ``timeout`` is a hang. At the batch's deadline an item still
        running gets the rest of its own ``timeout``: a hang is blamed on it alone.
        """
        runner = self.runner
        deadline = time.monotonic() + runner.timeout + count * runner.item_allowance
        seen, seen_at = None, 0.0
        while True:
            now = time.monotonic()
            try:
                answer = worker.receive(
                    min(deadline, now + _POLL) if deadline > now else now + _POLL
                )
            except queue.Empty:
                now = time.monotonic()
                index = worker.progress(request_id)
                index = index if index is not None and index < count else None
                changed = index != seen
                if changed:
                    seen, seen_at = index, now
                elif index is not None and now - seen_at >= runner.timeout:
                    return None, "hang", index
                if now >= deadline and (index is None or changed):
                    return None, "slow", index
                continue
            if answer is None:
                index = worker.progress(request_id)
                return None, "crash", index if index is not None and index < count else None
            return answer, None, None

    def _take(self, pending: list[int], answer: dict, request_id: int) -> None:
        answers = answer.get("answers")
        if (
            answer.get("id") != request_id
            or not answer.get("ok")
            or len(answers or ()) != len(pending)
        ):
            self.runner._restart()
            problem = answer.get("fatal") or "the command checker answered a batch out of turn"
            self._fail(pending, CompanionError(problem))
            return
        for i, one in zip(pending, answers):
            if one.get("ok"):
                self.results[i] = CompanionResult(one["error"], one["estimate"], one["problem"])
            else:
                label = self.items[i].entry["name"]
                self.results[i] = CompanionError(
                    one.get("fatal") or f"the checks of {label} failed"
                )

    def _recover(
        self, worker: _Worker, pending: list[int], trouble: str, index: int | None
    ) -> list[int]:
        """Blame the item that hung or crashed the worker, restart it; what to try again."""
        runner = self.runner
        label = self.items[pending[index]].entry["name"] if index is not None else None
        if trouble == "hang":
            error = CompanionError(
                f"the checks of {label} did not finish within {runner.timeout:g} s and were "
                "stopped; a check must return quickly (no waiting on hardware)"
            )
        elif trouble == "crash":
            reason = worker.died_because()
            what = f"the checks of {label}" if label else f"a batch of {len(pending)} jobs"
            error = CompanionError(f"the command checker crashed while running {what} ({reason})")
        else:
            limit = runner.timeout + len(pending) * runner.item_allowance
            running = f"; it was running the checks of {label}" if label else ""
            error = CompanionError(
                f"not checked: the checks of this batch of {len(pending)} jobs took more than "
                f"{limit:g} s in all ({runner.timeout:g} s + {runner.item_allowance:g} s per "
                f"job) and were stopped{running}; add fewer jobs at once or make the checks "
                "faster"
            )
        runner._restart()
        self._note_failure(str(error))
        if index is None or trouble == "slow":
            self._fail(pending, error)
            return []
        self.results[pending[index]] = error
        return pending[:index] + pending[index + 1 :]

    def _note_failure(self, message: str) -> None:
        self.failures += 1
        self.last_failure = message
