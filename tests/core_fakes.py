"""Fakes for unit tests of the core's state machine: runner, catalogue, validator.

The runner stands in for `runner.JobRunner` (no process); the store is the real one
(`faulty_store.FaultyStore`: SQLite in memory, with a full disk at a chosen write).
"""

from __future__ import annotations

import threading
from typing import Any

from scriptserver_ioc.validate.verdict import Verdict


class FakeRunner:
    """`JobRunner` that records calls; `errors[method]` makes a call fail as the real one.

    Every call checks that it is made after the commit: no store transaction open and the
    core lock free (another thread can take it).
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self.core: Any = None
        self.calls: list[tuple[str, dict]] = []
        self.errors: dict[str, str] = {}
        self.probe = True
        """Check that each call is made without the core lock (a thread per call)."""
        self.states: list[str] = []
        """The core's STATE when each call was made (after its decision's commit)."""

    def _call(self, method: str, **kwargs: Any) -> str | None:
        assert not self.store.depth, f"runner.{method} inside the store transaction"
        if self.probe:
            self._check_lock_free(method)
        self.calls.append((method, kwargs))
        self.states.append(self.core.run_state.value)
        return self.errors.get(method)

    def _check_lock_free(self, method: str) -> None:
        free: list[bool] = []

        def probe() -> None:
            free.append(self.core.lock.acquire(timeout=0))
            if free[0]:
                self.core.lock.release()

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()
        assert free == [True], f"runner.{method} called with the core lock held"

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]

    def start(self, launch: dict) -> None:
        error = self._call("start", launch=launch)
        if error:
            raise RuntimeError(error)

    def pause(self, immediate: bool) -> str | None:
        return self._call("pause", immediate=immediate)

    def resume(self) -> str | None:
        return self._call("resume")

    def abort(self, kill: bool, reason: str = "") -> str | None:
        return self._call("abort", kill=kill, reason=reason)

    def edit(self, number: int, source: str) -> str | None:
        return self._call("edit", number=number, source=source)

    def adopt(self, job_id: int, handle: dict, log_path: str) -> None:
        error = self._call("adopt", job_id=job_id, handle=handle, log_path=log_path)
        if error:
            raise RuntimeError(error)


class FakeCatalogue:
    """One command, `scan(n: int)`."""

    revision = 1
    commands_revision = 1

    def bind(self, name: str, args: list, kwargs: dict) -> dict[str, Any]:
        if name != "scan":
            raise ValueError(f"unknown command {name!r}")
        values = [*args, *kwargs.values()]
        if len(values) != 1 or set(kwargs) - {"n"} or not isinstance(values[0], int):
            raise ValueError("scan() takes one integer argument n")
        return {"n": values[0]}

    def to_json(self) -> list[dict]:
        return [{"name": "scan", "params": [{"name": "n", "type": "int"}]}]

    def job_commands(self) -> list[dict]:
        return [{"name": "scan", "module": "scans", "path": "/scans.py", "kind": "function"}]

    def reload(self, force: bool = False) -> bool:
        return False


class FakeValidator:
    """Accepts every job except a script containing `syntax error`; estimate 10 s."""

    def check(self, record: dict) -> Verdict:
        verdict = Verdict(estimate=10.0, estimate_source="declared")
        if "syntax error" in (record.get("script") or ""):
            verdict.error("invalid syntax", 1)
        return verdict

    def check_many(self, records: list[dict]) -> list[Verdict]:
        return [self.check(record) for record in records]

    def is_quick(self, record: dict) -> bool:
        return True

    def timeline(self, record: dict) -> None:
        return None
