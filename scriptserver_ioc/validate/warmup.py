"""Warm the companion worker in the background after the catalogue changes.

The catalogue is published first; then this thread imports the command modules in the
companion worker (`CompanionRunner.preload`), as a job imports them, so the first check of
an edited command does not pay for them. How each import went in the job's environment
(failed, slow: a PV read that times out at import) goes to the catalogue
(`Catalogue.note_job_import`), which names slow modules in COMMANDS:ERRORS. Modules found
slow before are imported last, so the others are ready sooner. New sources stop the
warming of older ones; new commands alone (the checker's view arriving module by module)
get another pass once this one ends, which imports only the modules not imported yet.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from scriptserver_ioc.catalogue.checker_process import CompanionError
from scriptserver_ioc.catalogue.imports import JobImport
from scriptserver_ioc.contract.protocols import checker as ops

if TYPE_CHECKING:
    from scriptserver_ioc.catalogue import Catalogue
    from scriptserver_ioc.validate.companions import CompanionRunner

logger = logging.getLogger(__name__)

SLOW_IMPORT = 3.0
"""Seconds after which an import in the job interpreter is set aside and reported slow."""


class Warmer:
    """A daemon thread that preloads the catalogue's modules after each change.

    Args:
        companions: the companion runner to warm.
        catalogue: where the commands come from and the import verdicts go.
        slow_after: seconds after which an import is reported slow.
    """

    def __init__(
        self,
        companions: CompanionRunner,
        catalogue: Catalogue,
        slow_after: float = SLOW_IMPORT,
    ) -> None:
        self.companions = companions
        self.catalogue = catalogue
        self.slow_after = slow_after
        self._wanted: tuple | None = None  # (code revision, commands revision)
        self._done: tuple | None = None
        self._busy: tuple | None = None  # the (code, commands) revisions being warmed
        self._slow: set[str] = set()  # paths of modules found slow, imported last
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def request(self) -> None:
        """Warm for the catalogue's current sources (returns at once)."""
        with self._lock:
            if self._stopped:
                return
            # the commands change without the code when the checker's view arrives module
            # by module: warm again for the new ones (those imported already are skipped)
            revision = (self.catalogue.code_revision, self.catalogue.commands_revision)
            if self._busy is not None and self._busy[0] != revision[0]:
                self.companions.cancel_preload()  # its worker is restarted for new sources
            self._wanted = revision
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="warmup", daemon=True)
                self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop warming; an import still blocking after 0.2 s is ended (its worker killed)."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        self._wake.set()
        if thread is None or thread is threading.current_thread():
            return
        thread.join(0.2)
        if thread.is_alive():  # an import is blocking: end it rather than wait
            self.companions.interrupt()
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                if self._stopped:
                    return
                revision = self._wanted
                if revision is None or revision == self._done:
                    continue
                self._busy = revision
            try:
                self._warm(revision)
            except Exception:
                logger.exception("warming the command checker failed")
            with self._lock:
                self._busy = None
                if self._wanted == revision:
                    self._done = revision

    def _warm(self, revision: tuple) -> None:
        commands = sorted(self.catalogue.commands(), key=lambda c: str(c.path) in self._slow)
        keys = self.catalogue.source_keys()  # what each verdict is about

        def on_import(entry: dict, verdict: JobImport) -> None:
            path = Path(entry["path"])
            if verdict.slow:
                self._slow.add(str(path))
            if path in keys:
                self.catalogue.note_job_import(path, verdict, keys[path])

        self.companions.preload(
            commands,
            revision=revision[0],
            slow_after=self.slow_after,
            on_import=on_import,
            # new sources end this pass; new commands alone get the next pass
            stale=lambda: self._stopped or (self._wanted or (None,))[0] != revision[0],
        )


class Preload:
    """One `CompanionRunner.preload`: import modules in the warm worker, bounded per module.

    Runs with the runner's lock taken per module. A module still importing after
    `slow_after` is set aside: its process is left to finish that import alone (a thread
    reports the total time, then stops it) and a fresh worker takes over; the modules the
    set-aside process had imported are imported again in the fresh one.

    Args:
        runner: the companion runner (its lock, worker and request ids are used).
        revision: the sources' revision for `_ensure_worker`.
        slow_after: the bound per module (None: wait up to the runner's start timeout).
        on_import: told how each module's import went (never called with the lock held).
    """

    def __init__(self, runner, revision, slow_after, on_import) -> None:
        self.runner = runner
        self.revision = revision
        self.slow_after = slow_after
        self.on_import = on_import
        self.problems: list[str] = []
        self.set_aside: set[tuple] = set()

    def run(self, entries: list[dict], stop: Callable[[], bool]) -> list[str]:
        """Import every entry's module once (twice over if a worker was set aside)."""
        passes = 0
        while passes < 2:
            passes += 1
            aside = len(self.set_aside)
            for entry in entries:
                if stop():
                    return self.problems
                verdict = self._import(entry)
                if stop():
                    return self.problems  # the import was ended: no verdict
                if verdict is not None and self.on_import is not None:
                    self.on_import(entry, verdict)
            if len(self.set_aside) == aside:
                break  # no worker was replaced: every module is in the current one
        return self.problems

    def _import(self, entry: dict) -> JobImport | None:
        """Import one module (lock held inside); its verdict, None if nothing was done."""
        runner = self.runner
        key = (entry.get("module"), entry.get("path"))
        with runner._lock:
            try:
                worker = runner._ensure_worker(self.revision)
            except CompanionError as exc:
                self.problems.append(str(exc))
                return None
            if key in worker.loaded or key in self.set_aside:
                return None
            request = {"op": ops.LOAD, "command": entry, "id": runner._request_id()}
            started = time.monotonic()
            runner._preloading = worker
            worker.send(request)
            limit = runner.start_timeout
            bound = min(self.slow_after, limit) if self.slow_after is not None else limit
            try:
                answer = worker.receive(started + bound)
            except queue.Empty:
                if bound >= limit:
                    runner._restart()
                    return self._failed(entry, limit, f"did not finish within {limit:g} s")
                runner._worker = None  # the next module gets a fresh worker
                self.set_aside.add(key)
                self._finish_alone(worker, entry, request["id"], started)
                return JobImport(False, round(bound, 1), True)
            finally:
                runner._preloading = None
            worker.loaded.add(key)
            if answer is None or answer.get("id") != request["id"]:
                runner._restart()
                return self._failed(entry, time.monotonic() - started, "crashed the worker")
        seconds = time.monotonic() - started
        error = None if answer.get("ok") else str(answer.get("fatal") or "cannot import")
        if error:
            self.problems.append(error)
        slow = self.slow_after is not None and seconds > self.slow_after
        return JobImport(True, round(seconds, 1), slow, error)

    def _failed(self, entry: dict, seconds: float, what: str) -> JobImport:
        error = f"importing the module of {entry.get('name')} {what}"
        self.problems.append(error)
        return JobImport(True, round(seconds, 1), False, error)

    def _finish_alone(self, worker, entry: dict, request_id: int, started: float) -> None:
        """Wait in a thread for the set-aside worker's import, report it, stop the worker."""
        runner = self.runner
        runner._aside.add(worker)

        def finish() -> None:
            try:
                answer = worker.receive(started + runner.start_timeout)
            except queue.Empty:
                answer = {"ok": False, "fatal": f"did not finish in {runner.start_timeout:g} s"}
            seconds = round(time.monotonic() - started, 1)
            wanted = worker in runner._aside
            runner._aside.discard(worker)
            worker.stop()
            if not wanted or self.on_import is None:
                return  # stopped by close, interrupt or newer sources
            if answer is None or answer.get("id") != request_id:
                answer = {"ok": False, "fatal": "the worker ended while importing it"}
            error = None if answer.get("ok") else str(answer.get("fatal") or "cannot import")
            self.on_import(entry, JobImport(True, seconds, True, error))

        threading.Thread(target=finish, name="warmup-slow-import", daemon=True).start()
