"""Dry runs: run a job in simulation in a separate process and collect what it would do.

The job runs under ``job/simulate.py`` with the job interpreter (virtual clock, Channel
Access writes recorded and not sent, commands with estimates not run; see that module and
docs/validation.md). The result is the ``dry_run`` object of ``VALIDATE:RESULT``::

    {"ok", "estimate", "steps": [{"line", "t", "what"}], "writes": [{"pv", "value", "t",
     "via", "line"}], "withheld": ["would remove `old.txt` (line 5)", ...], "output",
     "error": None | {"type", "message", "line", "traceback"}, "truncated", "notes",
     "real_seconds"}

The dry run is isolated from the world (``job/sim_isolation.py``): its file writes go to a
scratch directory made here and removed afterwards, removals and renames are not done
(``withheld`` lists them), and a program or network traffic ends it with an error of type
``HALTED`` (a verdict of ``unknown``, not a failure of the job).

Blocking: call it from a worker thread, never from the pcaspy thread.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from scriptserver_ioc.contract import limits
from scriptserver_ioc.core.specs import call_source

logger = logging.getLogger(__name__)

SIMULATE_PATH = Path(__file__).resolve().parent.parent / "job" / "simulate.py"
DEFAULT_TIME_LIMIT = 10.0
PRELUDE_ALLOWANCE = 30.0
"""Extra real seconds allowed for interpreter start, command imports and the prelude."""
MAX_STEPS = 10000
HALTED = "DryRunHalted"
"""Error type of a dry run ended by an effect it would not carry out (``unknown``)."""


def command_source(command: str, args: dict) -> str:
    """The one-line source a command job runs as (``core.specs.call_source`` and a newline)."""
    return call_source(command, args) + "\n"


def _failure(kind: str, message: str, started: float, output: str = "") -> dict:
    return {
        "ok": False,
        "estimate": None,
        "steps": [],
        "writes": [],
        "output": output,
        "error": {"type": kind, "message": message, "line": None, "traceback": ""},
        "withheld": [],
        "truncated": False,
        "notes": [],
        "real_seconds": round(time.monotonic() - started, 3),
    }


def dry_failure(message: str) -> dict:
    """The result of a dry run that could not start (``DryRunFailed`` with `message`)."""
    return _failure("DryRunFailed", message, time.monotonic())


def run_dry(
    source: str,
    *,
    commands: list[dict] | None = None,
    command_dirs: list[str] | list[Path] | None = None,
    job_python: str | None = None,
    prelude: str | None = None,
    prelude_filename: str = "<prelude>",
    filename: str = "<script>",
    time_limit: float = DEFAULT_TIME_LIMIT,
    max_steps: int = MAX_STEPS,
    env: dict[str, str] | None = None,
    beam: dict | None = None,
    low_priority: bool = False,
) -> dict:
    """Run job source in simulation and return the dry-run result.

    Args:
        source: the job's Python source (``command_source`` for command jobs).
        commands: ``Catalogue.job_commands()``.
        command_dirs: the command directories.
        job_python: the job interpreter (default: this interpreter).
        prelude: source of the prelude, run first (its own steps and writes are not listed).
        prelude_filename: file name shown in prelude tracebacks.
        filename: the job's file name (its own frames are the traced ones).
        time_limit: real seconds the job may run before it is stopped with an error.
        max_steps: cap on the timeline's length (``truncated`` says when it was reached).
        env: environment of the dry-run process (default: this process's).
        beam: the beam model's options (``job/sim_genie.BeamModel``), None for ISIS defaults.
        low_priority: run the dry run at the lowest CPU priority (background pre-flights, so
            the running job keeps the CPU).

    Returns:
        The dry-run dict (module docstring). Never raises for a problem of the job.
    """
    scratch = tempfile.mkdtemp(prefix="scriptserver-dryrun-")
    try:
        return _run_dry(
            dict(
                source=source,
                filename=filename,
                commands=commands or [],
                command_dirs=[str(d) for d in command_dirs or []],
                prelude=prelude,
                prelude_filename=prelude_filename,
                time_limit=time_limit,
                max_steps=max_steps,
                max_writes=max_steps,
                beam=beam,
                scratch=scratch,
            ),
            job_python or sys.executable,
            env,
            low_priority,
        )
    finally:  # the dry run's overlay: what it wrote is thrown away
        shutil.rmtree(scratch, ignore_errors=True)


def _run_dry(request: dict, python: str, env: dict | None, low_priority: bool) -> dict:
    started = time.monotonic()
    time_limit = request["time_limit"]
    try:
        proc = subprocess.Popen(
            [python, str(SIMULATE_PATH)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
    except OSError as exc:
        return _failure(
            "DryRunFailed", f"cannot start the job interpreter {python!r}: {exc}", started
        )
    if low_priority:
        _lower_priority(proc.pid)
    lines: queue.Queue[bytes | None] = queue.Queue()
    stderr_tail: deque[str] = deque(maxlen=200)

    def read_stdout() -> None:
        for raw in proc.stdout:  # type: ignore[union-attr]
            lines.put(raw)
        lines.put(None)

    def read_stderr() -> None:
        for raw in proc.stderr:  # type: ignore[union-attr]
            stderr_tail.append(raw.decode("utf-8", "replace"))

    readers = [
        threading.Thread(target=read_stdout, daemon=True, name="dry-run-out"),
        threading.Thread(target=read_stderr, daemon=True, name="dry-run-err"),
    ]
    for reader in readers:
        reader.start()
    try:
        proc.stdin.write(json.dumps(request, ensure_ascii=True, default=repr).encode())  # type: ignore[union-attr]
        proc.stdin.close()  # type: ignore[union-attr]
    except OSError:
        pass  # it died at once; reported below
    result = _collect(proc, lines, time_limit, started)
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        logger.error("dry-run process %s did not exit after kill", proc.pid)
    for reader in readers:
        reader.join(timeout=1)
    extra = "".join(stderr_tail).strip()
    if result is None:
        code = proc.returncode
        return _failure(
            "DryRunFailed",
            f"the dry-run process ended without a result (exit code {code})",
            started,
            extra[-4000:],
        )
    if extra:
        output = result.get("output", "") + "\n" + extra
        result["output"] = output[-limits.OUTPUT_TAIL_BYTES :].lstrip("\n")
    result["real_seconds"] = round(time.monotonic() - started, 3)
    return result


def _lower_priority(pid: int) -> None:
    """Lowest CPU priority for a process: it runs only on a CPU nothing else wants.

    Linux: the ``SCHED_IDLE`` policy. Nice 19 alone still takes a share of a busy CPU and,
    worse, delays the wake-up of every thread that has to preempt it (each hop of a pause
    request: the CA thread, the core, the job process, the runner, the publisher), which is
    what a running job's pause latency was made of while pre-flights ran; a ``SCHED_IDLE``
    task is preempted at once. Elsewhere (and if that fails): nice 19, or the IDLE
    priority class on Windows.
    """
    idle = getattr(os, "SCHED_IDLE", None)
    if idle is not None:
        try:
            os.sched_setscheduler(pid, idle, os.sched_param(0))
            return
        except OSError as exc:
            logger.debug("cannot give dry run %s the idle scheduling policy: %s", pid, exc)
    try:
        import psutil

        process = psutil.Process(pid)
        process.nice(getattr(psutil, "IDLE_PRIORITY_CLASS", 19))
    except Exception as exc:  # noqa: BLE001 - a priority is a courtesy, never a failure
        logger.debug("cannot lower the priority of dry run %s: %s", pid, exc)


def _collect(
    proc: subprocess.Popen, lines: queue.Queue, time_limit: float, started: float
) -> dict | None:
    """Wait for the started event, then the result, each with its own deadline."""
    deadline = time.monotonic() + time_limit + PRELUDE_ALLOWANCE
    job_started = False
    while True:
        try:
            raw = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            proc.kill()
            if job_started:
                message = (
                    f"dry run stopped after {time_limit:g} s of real time; the job was stuck "
                    "in code that cannot be interrupted (line unknown)"
                )
                return _failure("DryRunTimeout", message, started)
            message = (
                f"the dry run did not start the job within {time_limit + PRELUDE_ALLOWANCE:g} s "
                "(importing the commands or running the prelude took too long)"
            )
            return _failure("DryRunTimeout", message, started)
        if raw is None:
            return None
        try:
            message: Any = json.loads(raw)
        except ValueError:
            logger.warning("dry run wrote a line that is not JSON: %r", raw[:200])
            continue
        if message.get("event") == "started":
            job_started = True
            deadline = time.monotonic() + time_limit + 1.0
            continue
        return message
