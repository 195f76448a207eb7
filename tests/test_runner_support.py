"""Shared fixtures and helpers of the runner tests (real job processes, no Channel Access).

Imported by the other tests/test_runner_*.py files; it holds no tests itself.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from scriptserver_ioc.runner import JobRunner, RunnerSettings

TIMEOUT = 15.0
JOB_PYTHON = os.environ.get("SCRIPTSERVER_TEST_JOB_PYTHON", sys.executable)
"""The job interpreter of these tests (set the variable to try another Python 3.8+)."""


class Recorder:
    """A RunnerEvents that records every event and lets a test wait for one."""

    def __init__(self) -> None:
        self.events: list[tuple[float, int, dict[str, Any]]] = []
        self._cond = threading.Condition()
        self.callback = None

    def on_job_event(self, job_id: int, event: dict[str, Any]) -> None:
        with self._cond:
            self.events.append((time.monotonic(), job_id, event))
            self._cond.notify_all()
        if self.callback is not None:
            self.callback(job_id, event)

    def of(self, job_id: int | None, kind: str | None = None) -> list[dict[str, Any]]:
        """Events of a job (of every job if None), of one kind or all."""
        with self._cond:
            return [
                e for _, j, e in self.events if job_id in (None, j) and kind in (None, e["type"])
            ]

    def wait(self, job_id: int, kind: str, timeout: float = TIMEOUT, where=None) -> dict:
        """The first event of ``kind`` for the job (matching ``where``); fails on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for _, j, e in self.events:
                    if j == job_id and e["type"] == kind and (where is None or where(e)):
                        return e
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [e["type"] for _, j, e in self.events if j == job_id]
                    raise AssertionError(f"no {kind!r} event for job {job_id}; saw {seen}")
                self._cond.wait(remaining)

    def time_of(self, job_id: int, kind: str) -> float:
        with self._cond:
            return next(t for t, j, e in self.events if j == job_id and e["type"] == kind)

    def lines(self, job_id: int) -> list[int]:
        return [e["line"] for e in self.of(job_id, "line")]


def process_gone(pid: int) -> bool:
    """True if no such process runs (a zombie left for a non-reaping init counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def launch(data_dir: Path, job_id: int, source: str, **extra: Any) -> dict[str, Any]:
    entry = {
        "job_id": job_id,
        "name": f"job {job_id}",
        "kind": "script",
        "source": source,
        "filename": f"<job {job_id}>",
        "blackbox": False,
        "commands": [],
        "log_path": str(data_dir / "logs" / f"job-{job_id}.log"),
    }
    entry.update(extra)
    return entry


def log_text(entry: dict[str, Any]) -> str:
    return Path(entry["log_path"]).read_text(encoding="utf-8", errors="replace")


class RunnerFactory:
    """Makes runners on a tmp data directory; kills every process they started afterwards."""

    def __init__(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path / "data"
        self.runners: list[JobRunner] = []
        self.pids: set[int] = set()

    def settings(self, **overrides: Any) -> RunnerSettings:
        values: dict[str, Any] = {
            "job_python": JOB_PYTHON,
            "data_dir": self.data_dir,
            "warm_spare": False,
            "abort_grace": 5.0,
        }
        values.update(overrides)
        return RunnerSettings(**values)

    def __call__(self, recorder: Recorder | None = None, **overrides: Any):
        recorder = recorder or Recorder()
        original = recorder.callback

        def note_pids(job_id: int, event: dict[str, Any]) -> None:
            if event["type"] == "started":
                self.pids.add(event["pid"])
            if original is not None:
                original(job_id, event)

        recorder.callback = note_pids
        runner = JobRunner(self.settings(**overrides), recorder)
        self.runners.append(runner)
        return runner, recorder

    def cleanup(self) -> None:
        for runner in self.runners:
            spare = runner.spare_pid
            if spare is not None:
                self.pids.add(spare)
            runner.close()
        for pid in self.pids:
            try:
                proc = psutil.Process(pid)
                for child in proc.children(recursive=True):
                    child.kill()
                proc.kill()
            except psutil.NoSuchProcess:
                pass


def cpu_time(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def stopped(pid: int) -> bool:
    """True while process `pid` is stopped (SIGSTOP has taken effect)."""
    return psutil.Process(pid).status() == psutil.STATUS_STOPPED


def write_module(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    return path


def python_at_least(version: tuple[int, int]) -> str | None:
    """A pyenv interpreter of ``version`` if one is installed here, else None."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for candidate in sorted(root.glob(f"{version[0]}.{version[1]}.*")):
        python = candidate / "bin" / f"python{version[0]}.{version[1]}"
        if python.exists():
            return str(python)
    return None
