"""The batch exchange of ``CompanionRunner.check_many``: many jobs in one round trip.

The jobs are sent in chunks of ``chunk_size``; each chunk is one ``check_many`` request to
the checker, after one ``load`` per module not yet imported. While the checker works through
a chunk, its progress record says which item it is running, so a companion that hangs or
crashes the checker is blamed alone: the worker is restarted and the chunk's other items are
sent again. After ``max_batch_failures`` hangs or crashes the rest is not checked.
"""

from __future__ import annotations

import queue
import time
from typing import Callable, ContextManager, NamedTuple, Protocol

from scriptserver_ioc.catalogue.checker_process import CompanionError, CompanionResult, Worker
from scriptserver_ioc.contract.protocols import checker as ops

_POLL = 0.1  # how often the progress of a long batch exchange is looked at, seconds


class BatchItem(NamedTuple):
    """One item of a batch: the command's entry, its bound arguments, which companions."""

    entry: dict
    args: dict
    validate: bool
    estimate: bool
    module_key: tuple  # (module, path), what ``load`` imports


class BatchLimits(Protocol):
    """The runner's bounds a batch obeys (read at each use: tests may change them)."""

    chunk_size: int
    max_batch_failures: int
    timeout: float
    item_allowance: float


class WorkerAccess(NamedTuple):
    """What a batch may do with the runner's worker; every call but ``lock`` with it held.

    Given by the runner (``CompanionRunner.check_many``), so this module needs neither the
    runner's class nor its private members.
    """

    lock: ContextManager
    ensure_worker: Callable[[object], Worker]  # revision -> a worker for it
    load: Callable[[Worker, dict, tuple], object]  # import a command's module (raises)
    next_request_id: Callable[[], int]
    restart: Callable[[], None]  # stop the worker; the next ensure_worker starts one


class Batch:
    """One ``CompanionRunner.check_many`` call: chunks, module loads, retries.

    Args:
        runner: the runner's bounds (chunk size, timeouts, failures allowed).
        access: the runner's worker, through its lock.
        items: the batch, in order.
        revision: the catalogue revision (a new value restarts the worker first).
    """

    def __init__(
        self, runner: BatchLimits, access: WorkerAccess, items: list[BatchItem], revision: object
    ) -> None:
        self.runner = runner
        self.access = access
        self.items = items
        self.revision = revision
        self.results: list[CompanionResult | CompanionError | None] = [None] * len(items)
        self.failures = 0
        self.last_failure = ""

    def run(self) -> list[CompanionResult | CompanionError]:
        """Check every item; one outcome per item, in order (see ``check_many``)."""
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
        with self.access.lock:
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
            request_id = self.access.next_request_id()
            request = {"commands": commands, "items": rows}
            worker.send({"id": request_id, "op": ops.CHECK_MANY, **request})
            answer, trouble, index = self._await(worker, request_id, len(rows))
            if answer is not None:
                self._take(pending, answer, request_id)
                return []
            return self._recover(worker, pending, trouble, index)

    def _load_modules(self, pending: list[int]) -> tuple[Worker, list[int]]:
        """Import the modules of ``pending`` not yet imported, one ``load`` each (as ``check``)."""
        worker = self.access.ensure_worker(self.revision)
        while True:
            missing = next(
                (self.items[i] for i in pending if self.items[i].module_key not in worker.loaded),
                None,
            )
            if missing is None:
                return worker, pending
            try:
                self.access.load(worker, missing.entry, missing.module_key)
            except CompanionError as exc:  # that module's items only; the worker restarted
                self._note_failure(str(exc))
                failed = [i for i in pending if self.items[i].module_key == missing.module_key]
                self._fail(failed, exc)
                pending = [i for i in pending if self.items[i].module_key != missing.module_key]
                worker = self.access.ensure_worker(self.revision)

    def _await(
        self, worker: Worker, request_id: int, count: int
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
            self.access.restart()
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
        self, worker: Worker, pending: list[int], trouble: str, index: int | None
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
        self.access.restart()
        self._note_failure(str(error))
        if index is None or trouble == "slow":
            self._fail(pending, error)
            return []
        self.results[pending[index]] = error
        return pending[:index] + pending[index + 1 :]

    def _note_failure(self, message: str) -> None:
        self.failures += 1
        self.last_failure = message
