"""`scriptserver watch`: follow the queue from job to job until there is nothing to follow.

On a terminal a live panel shows the state (RUNNING, PAUSED, ...), the current job with
its line and that line's text, a progress bar with elapsed and remaining time, the group
("3 of 10") and when the queue will finish. Without a terminal it prints one line per
change. Either way it prints each job's result as it ends and, when nothing runs, waits
for the next job (a user starts `watch` and then queues work); it ends on Ctrl-C (exit
code 130, no traceback), or with `--until-idle` once the server is idle with the queue
empty or held.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from .client import ScriptServerClient
from .formatting import duration, group_text, result_line, source_line

POLL_INTERVAL = 0.25
"""Seconds between reads of the server's status."""

STATE_STYLES = {
    "IDLE": "bold white on grey37",
    "RUNNING": "bold black on green",
    "PAUSING": "bold black on yellow",
    "PAUSED": "bold black on yellow",
    "ABORTING": "bold white on red",
}


@dataclass
class Snapshot:
    """What the server shows at one moment."""

    status: dict[str, Any]
    current: dict[str, Any] | None = None
    line_text: str = ""
    progress: float = -1.0
    elapsed: float = -1.0
    remaining: float = -1.0
    finish: str = "-"

    @property
    def done(self) -> bool:
        """Nothing runs and nothing will start: idle with the queue empty or held."""
        status = self.status
        idle = status["state"] == "IDLE" and not status.get("current_id")
        return idle and (status["queue_count"] == 0 or bool(status["hold"]))


@dataclass
class Watcher:
    """Reads snapshots and notices finished jobs (each reported once)."""

    client: ScriptServerClient
    reported: set[int] = field(default_factory=set)
    last_id: int = -1
    scripts: dict[int, str] = field(default_factory=dict)

    def start(self) -> None:
        """Remember the jobs finished before watching began (not reported)."""
        self.last_id = int(self.client.get("LAST:ID"))
        self.reported = {job["id"] for job in self.client.history()}

    def snapshot(self) -> Snapshot:
        """The server's status and current job now."""
        c = self.client
        snap = Snapshot(status=c.status(), finish=c.get("QUEUE:FINISH"))
        current = c.current() if snap.status.get("current_id") else None
        if current:
            if current["id"] not in self.scripts:
                self.scripts = {current["id"]: c.get_text("CURRENT:SCRIPT")}
            snap.current = current
            snap.line_text = source_line(self.scripts[current["id"]], current.get("line"))
            snap.progress = c.get("CURRENT:PROGRESS")
            snap.elapsed = c.get("CURRENT:ELAPSED")
            snap.remaining = c.get("CURRENT:REMAINING")
            if c.get("CURRENT:ID") != current["id"]:  # a job hand-over between the reads:
                snap.progress = snap.remaining = -1.0  # those were the previous job's
        return snap

    def finished_jobs(self) -> list[dict[str, Any]]:
        """Jobs that finished since the last call, oldest first."""
        last_id = int(self.client.get("LAST:ID"))
        if last_id == self.last_id:
            return []
        self.last_id = last_id
        new = [job for job in self.client.history() if job["id"] not in self.reported]
        self.reported.update(job["id"] for job in new)
        return sorted(new, key=lambda job: job["finished"] or "")


def summary(snap: Snapshot) -> str:
    """The one-line state summary (also the line printed without a terminal)."""
    status, job = snap.status, snap.current
    text = status["state"]
    if job:
        group = group_text(job)
        text += f" job {job['id']} {job['name']!r}" + (f" [{group}]" if group else "")
        if job.get("line"):
            text += f" line {job['line']}: {snap.line_text}"
    waiting = f"{status['queue_count']} queued" + (" (HELD)" if status["hold"] else "")
    return f"{text} | {waiting}, finish {snap.finish}"


def panel(snap: Snapshot) -> Any:
    """The live display of one snapshot (a rich renderable)."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    status, job = snap.status, snap.current
    head = Text(f" {status['state']} ", style=STATE_STYLES.get(status["state"], "bold"))
    if job:
        head.append(f"  job {job['id']} ", style="bold")
        head.append(job["name"])
        group = group_text(job)
        if group:
            head.append(f"   {group}", style="cyan")
    else:
        head.append("  no job running")
        if snap.done:
            head.append(f"  ({waiting(snap)})", style="dim")
    rows: list[Any] = [head]
    if job:
        where = f"line {job['line']}: {snap.line_text}" if job.get("line") else "line -"
        rows.append(Text(where, style="dim" if not job.get("line") else ""))
        bar = Table.grid(padding=(0, 1))
        known = snap.progress >= 0
        bar.add_row(
            ProgressBar(total=100, completed=max(0.0, snap.progress), width=40, pulse=not known),
            f"{snap.progress:5.1f} %" if known else "    ? %",
            f"elapsed {duration(snap.elapsed)}",
            f"remaining {duration(snap.remaining)}",
        )
        rows.append(bar)
        if job.get("message"):
            rows.append(Text(f"message: {job['message']}", style="italic"))
    held = f"  HELD {status.get('hold_reason') or ''}".rstrip() if status["hold"] else ""
    rows.append(Text(f"queue: {status['queue_count']} waiting{held}, finishes {snap.finish}"))
    return Group(*rows)


def ending(snap: Snapshot) -> str:
    """Why watching ends."""
    status = snap.status
    if status["queue_count"] and status["hold"]:
        why = status.get("hold_reason") or "queue held"
        return f"{why}; {status['queue_count']} job(s) waiting; watch ends"
    return "idle, queue empty; watch ends"


def waiting(snap: Snapshot) -> str:
    """What watch says while nothing runs and it waits for work."""
    status = snap.status
    if status["queue_count"] and status["hold"]:
        why = status.get("hold_reason") or "queue held"
        return f"{why}; {status['queue_count']} job(s) waiting; `scriptserver release` runs them"
    return "idle, queue empty; waiting for a job (Ctrl-C leaves)"


def watch(client: ScriptServerClient, args: argparse.Namespace) -> int:
    """Follow the queue job by job, waiting for work (`--until-idle`: end when idle)."""
    until_idle = bool(getattr(args, "until_idle", False))
    watcher = Watcher(client)
    # Ctrl-C sets a flag the loop checks: a KeyboardInterrupt raised inside a libca
    # callback would be swallowed by ctypes
    interrupted = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: interrupted.set())
    try:
        watcher.start()
        if sys.stdout.isatty() and not args.plain:
            _watch_live(watcher, interrupted, until_idle)
        else:
            _watch_lines(watcher, interrupted, until_idle)
    except KeyboardInterrupt:
        interrupted.set()
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted.is_set():
        print("\nstopped watching; the server carries on", flush=True)
        return 130
    return 0


def _watch_lines(watcher: Watcher, interrupted: threading.Event, until_idle: bool) -> None:
    shown, said_waiting = "", False
    while not interrupted.is_set():
        snap = watcher.snapshot()
        for job in watcher.finished_jobs():
            print(result_line(job), flush=True)
        line = summary(snap)
        if line != shown:
            print(line, flush=True)
            shown = line
        if snap.done and until_idle:
            print(ending(snap), flush=True)
            return
        if snap.done and not said_waiting:
            print(waiting(snap), flush=True)
        said_waiting = snap.done
        interrupted.wait(POLL_INTERVAL)


def _watch_live(watcher: Watcher, interrupted: threading.Event, until_idle: bool) -> None:
    from rich.console import Console
    from rich.live import Live

    console = Console(highlight=False)
    snap = watcher.snapshot()
    with Live(panel(snap), console=console, refresh_per_second=8, transient=False) as live:
        while not interrupted.is_set():
            for job in watcher.finished_jobs():
                live.console.print(result_line(job), style=_result_style(job))
            live.update(panel(snap))
            if snap.done and until_idle:
                break
            interrupted.wait(POLL_INTERVAL)
            snap = watcher.snapshot()
    if not interrupted.is_set():
        console.print(ending(snap))


def _result_style(job: dict[str, Any]) -> str:
    return {"DONE": "green", "FAILED": "bold red", "ABORTED": "red"}.get(job["state"], "yellow")
