"""Run command companions (``validate_<name>``, ``estimate_<name>``, DoRun checks).

Companions are user code: they run in a warm worker subprocess (``job/checker.py`` under the
job interpreter), never in the IOC process. The worker is started on first use, restarted
when the catalogue revision changes (so edited modules are re-imported) and after a timeout or
a crash. One request at a time (one lock); a call costs a pipe round trip (well under a
millisecond) once the worker is warm, and ``check_many`` checks a whole batch of jobs in one
round trip.

The worker process is ``worker.Worker``; the batch exchange of ``check_many`` is
``batch.Batch``. ``CompanionError`` and ``CompanionResult`` are defined in ``worker`` and
are imported from here.
"""

from __future__ import annotations

import logging
import queue
import time
from pathlib import Path
from typing import Any, Callable

from scriptserver_ioc.catalogue.checker_process import (
    CHECKER_PATH,
    PROGRESS,
    CompanionError,
    CompanionResult,
    FairLock,
    Worker,
)
from scriptserver_ioc.catalogue.imports import JobImport
from scriptserver_ioc.contract.protocols import checker as ops
from scriptserver_ioc.validate.batch import Batch, BatchItem, WorkerAccess

__all__ = [
    "CHECKER_PATH",
    "PROGRESS",
    "CompanionError",
    "CompanionResult",
    "CompanionRunner",
    "command_entry",
]

logger = logging.getLogger(__name__)


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
        self._lock = FairLock()  # a check waits for one warm-up import, not all
        self._worker: Worker | None = None
        self._revision: object = None
        self._next_id = 0
        self.restarts = 0
        self._interrupted = False  # closing: a preload ends, no worker is restarted
        self._cancelled = False  # the preload in progress is no longer wanted
        self._preloading: Worker | None = None  # the worker a preload is waiting on
        self._aside: set[Worker] = set()  # workers left to finish a slow import (warmup)

    def start(self, revision: object = None) -> None:
        """Start the worker now (optional: the first call starts it otherwise)."""
        with self._lock:
            self._ensure_worker(revision)

    def preload(
        self,
        commands: list[Any],
        *,
        revision: object = None,
        slow_after: float | None = None,
        on_import: Callable[[dict, JobImport], None] | None = None,
        stale: Callable[[], bool] | None = None,
    ) -> list[str]:
        """Start the worker for ``revision`` and import the modules of ``commands`` now.

        Call it from a background thread (``warmup.Warmer``) after the catalogue changes,
        so the first check of an edited command does not pay for the interpreter start and
        the imports on the IOC's server thread. The lock is taken per module; an import
        still running after ``slow_after`` is set aside (its process finishes it alone and
        a fresh worker takes over), so a check never waits longer than that for a preload.

        Args:
            commands: catalogue Commands (or their ``job_commands()`` dicts); each module
                is imported once, in this order.
            revision: the sources' revision; a new value restarts the worker first.
            slow_after: seconds after which an import is set aside as slow (``on_import``
                then hears ``done=False`` at once and the total time when it finishes).
            on_import: told how each module's import went, in the job's environment.
            stale: returns True when this preload is no longer wanted (stops early).

        Returns:
            The import problems (one message per module that cannot be imported).
        """
        from scriptserver_ioc.validate.warmup import Preload

        self._cancelled = False
        preload = Preload(self, revision, slow_after, on_import)
        return preload.run(
            [command_entry(c) for c in commands],
            lambda: self._interrupted or self._cancelled or (stale is not None and stale()),
        )

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
        request = {"op": ops.CHECK, "command": entry, "args": args}
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
            batch.append(BatchItem(entry, args, *wants, (entry.get("module"), entry.get("path"))))
        access = WorkerAccess(
            self._lock, self._ensure_worker, self._load, self._request_id, self._restart
        )
        return Batch(self, access, batch, revision).run()

    def module_names(self, module: str, *, revision: object = None) -> list[str]:
        """Names ``from <module> import *`` binds in the job interpreter.

        Raises:
            CompanionError: the module cannot be imported there.
        """
        return self._names(ops.MODULE_NAMES, module, revision)

    def module_attributes(self, module: str, *, revision: object = None) -> list[str]:
        """Every attribute of ``module`` in the job interpreter (``dir(module)``).

        Raises:
            CompanionError: the module cannot be imported there.
        """
        return self._names(ops.ATTRIBUTES, module, revision)

    def _names(self, op: str, module: str, revision: object) -> list[str]:
        with self._lock:
            worker = self._ensure_worker(revision)
            answer = self._exchange(
                worker,
                {"op": op, "module": module},
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
            for worker in list(self._aside):
                worker.stop()
            self._aside.clear()
            self._interrupted = False

    def interrupt(self) -> None:
        """End a preload now, at shutdown: kill the worker without waiting for the lock.

        A module blocking at import would otherwise hold the lock (and ``close``) until its
        import ends. The next call after ``close`` starts a fresh worker.
        """
        self._interrupted = True
        self.cancel_preload()

    def cancel_preload(self) -> None:
        """End the preload in progress (the sources changed): kill the worker it waits on.

        The worker would be restarted for the new sources anyway; a module blocking at
        import no longer holds the lock (and every check) until its import ends.
        """
        self._cancelled = True
        workers = [self._preloading, *self._aside]
        self._aside.clear()
        for worker in workers:
            if worker is not None:
                worker.stop()

    def _call(self, request: dict, revision: object, what: str, load: dict | None = None) -> dict:
        with self._lock:
            worker = self._ensure_worker(revision)
            module_key = (load.get("module"), load.get("path")) if load else None
            if module_key is not None and module_key not in worker.loaded:
                self._load(worker, load, module_key)
            return self._exchange(
                worker,
                request,
                self.timeout,
                f"{what} did not finish within {self.timeout:g} s and were stopped; "
                "a check must return quickly (no waiting on hardware)",
                what,
            )

    def _exchange(
        self, worker: Worker, request: dict, limit: float, late: str, what: str | None = None
    ) -> dict:
        """Send one request and wait for its answer (lock held); restart the worker on trouble."""
        what = what or request.get("op", "a request")
        request["id"] = self._request_id()
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

    def _load(self, worker: Worker, entry: dict, module_key: tuple) -> dict:
        """Import a command's module in the worker (lock held); its ``load`` answer.

        Importing a module (genie_python, numpy, ...) may take seconds on a slow machine: it
        gets the start-up allowance, not the check's time limit. The module counts as
        imported (or failed) in this worker afterwards, whatever the answer.
        """
        answer = self._exchange(
            worker,
            {"op": ops.LOAD, "command": entry},
            self.start_timeout,
            f"importing the module of {entry.get('name')} did not finish within "
            f"{self.start_timeout:g} s and was stopped",
        )
        worker.loaded.add(module_key)
        return answer

    def _request_id(self) -> int:
        """A new request id (lock held)."""
        self._next_id += 1
        return self._next_id

    def _ensure_worker(self, revision: object) -> Worker:
        """The worker, started and ready, for ``revision`` (lock held); restarts on a new one."""
        if self._worker is not None and revision is not None and revision != self._revision:
            logger.info("catalogue revision %s: restarting the command checker", revision)
            self._restart()
        if revision is not None:
            self._revision = revision
        if self._worker is None:
            self._worker = Worker(self.job_python, self.command_dirs)
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
        if self._interrupted:
            return  # shutting down
        self.restarts += 1
        try:
            self._worker = Worker(self.job_python, self.command_dirs)
        except CompanionError as exc:
            logger.error("%s", exc)

    def _stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
