"""Fakes for unit tests of the core's state machine: store, runner, catalogue, validator.

The issue asks for the state machine to be tested with a fake runner and a fake store, so
these stand in for `store.sqlite.Store` and `runner.JobRunner` (no database file, no
process). The fake store keeps the same rows in memory, rolls back a failed transaction
and can fail at any write with SQLite's own "database or disk is full" error.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from typing import Any

from scriptserver_ioc.core.jobs import Job
from scriptserver_ioc.core.ports import StoreError
from scriptserver_ioc.validate.verdict import Verdict

DISK_FULL = "database or disk is full"


class FakeStore:
    """`store.sqlite.Store` in memory; every write must happen inside a transaction."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {
            "rows": {},  # id -> [state, position, record, handle, finished_seq]
            "settings": {},
            "log": [],
            "durations": {},
        }
        self.quarantined: list[str] = []
        self.depth = 0
        self.fail_at: int | None = None
        """Index of the write (counted from arming) that raises, or None."""
        self.writes_seen = 0
        self.transactions: list[list[str]] = []
        """Write names of each committed top-level transaction, oldest first."""
        self._tx: list[str] = []

    # -- transactions and fault injection -------------------------------------------------

    @contextmanager
    def transaction(self):
        if self.depth:
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
            return
        saved = self._copy()
        self.depth, self._tx = 1, []
        try:
            yield
        except BaseException:
            self.data = saved
            raise
        else:
            if self._tx:
                self.transactions.append(self._tx)
        finally:
            self.depth = 0

    def _copy(self) -> dict[str, Any]:
        data = dict(self.data)
        data["rows"] = {k: list(v) for k, v in data["rows"].items()}
        data["settings"], data["log"] = dict(data["settings"]), list(data["log"])
        data["durations"] = {k: list(v) for k, v in data["durations"].items()}
        return data

    def arm(self, fail_at: int | None) -> None:
        """Fail the `fail_at`-th write from now on (0 = the next one)."""
        self.fail_at, self.writes_seen, self.transactions = fail_at, 0, []

    def _write(self, name: str) -> None:
        assert self.depth, f"store.{name} outside a transaction"
        index, self.writes_seen = self.writes_seen, self.writes_seen + 1
        if self.fail_at is not None and index == self.fail_at:
            raise StoreError(DISK_FULL)
        self._tx.append(name)

    def dump(self) -> str:
        return json.dumps(self.data, sort_keys=True, default=str)

    # -- writes -----------------------------------------------------------------------------

    def save_jobs(self, jobs) -> None:
        self._write("save_jobs")
        for job, key in jobs:
            row = self.data["rows"].setdefault(job.id, [None, None, None, None, None])
            row[0], row[1], row[2] = job.state.value, key, job.json_text()

    def save_job(self, job: Job, key: float | None = None, handle: dict | None = None) -> None:
        self._write("save_job")
        row = self.data["rows"].setdefault(job.id, [None, None, None, None, None])
        row[0], row[1], row[2] = job.state.value, key, job.json_text()
        if handle is not None:
            row[3] = json.dumps(handle)

    def finish_job(self, job: Job) -> None:
        self._write("finish_job")
        seq = 1 + max((r[4] or 0 for r in self.data["rows"].values()), default=0)
        self.data["rows"][job.id] = [job.state.value, None, job.json_text(), None, seq]

    def set_keys(self, keys: dict[int, float]) -> None:
        self._write("set_keys")
        for job_id, key in keys.items():
            self.data["rows"][job_id][1] = key

    def delete_jobs(self, job_ids) -> None:
        self._write("delete_jobs")
        for job_id in job_ids:
            self.data["rows"].pop(job_id, None)

    def set_setting(self, key: str, value: Any) -> None:
        self._write("set_setting")
        self.data["settings"][key] = json.dumps(value)

    def add_duration(self, key: str, seconds: float) -> None:
        self._write("add_duration")
        self.data["durations"].setdefault(key, []).append(seconds)

    def append_log(self, line: str) -> None:
        self._write("append_log")
        self.data["log"].append(line)

    # -- reads ------------------------------------------------------------------------------

    def next_job_id(self) -> int:
        stored = json.loads(self.data["settings"].get("next_id", "1"))
        return max(stored, 1 + max(self.data["rows"], default=0))

    def _jobs(self, which) -> list[tuple[Job, list]]:
        rows = self.data["rows"].items()
        return [(Job.from_dict(json.loads(r[2])), r) for _, r in sorted(rows) if which(r)]

    def queued_jobs(self) -> list[tuple[Job, float]]:
        jobs = self._jobs(lambda r: r[1] is not None)
        return sorted(((job, r[1]) for job, r in jobs), key=lambda pair: pair[1])

    def active_jobs(self) -> list[tuple[Job, dict | None]]:
        jobs = self._jobs(lambda r: r[1] is None and r[4] is None)
        return [(job, json.loads(r[3]) if r[3] else None) for job, r in jobs]

    def history(self, limit: int) -> list[Job]:
        jobs = self._jobs(lambda r: r[4] is not None)
        return [job for job, r in sorted(jobs, key=lambda p: -p[1][4])][:limit]

    def finished_job(self, job_id: int) -> Job | None:
        return next((job for job in self.history(10**6) if job.id == job_id), None)

    def setting(self, key: str, default: Any = None) -> Any:
        text = self.data["settings"].get(key)
        return default if text is None else json.loads(text)

    def log_lines(self, limit: int) -> list[str]:
        return self.data["log"][-limit:]

    def durations(self, key: str) -> list[float]:
        return list(self.data["durations"].get(key, []))


class FakeRunner:
    """`JobRunner` that records calls; `errors[method]` makes a call fail as the real one.

    Every call checks that it is made after the commit: no store transaction open and the
    core lock free (another thread can take it).
    """

    def __init__(self, store: FakeStore) -> None:
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
