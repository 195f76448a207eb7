"""Read verbs of the console tool: status, history, commands, show, log.

Each prints tables for a person, or with `--json` the server's JSON for scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from ..contract.texts import preflight_text
from .client import ClientError, ScriptServerClient
from .formatting import beam_text, duration, failure, group_text

FOLLOW_INTERVAL = 0.25
"""Seconds between reads of CURRENT:OUTPUT while following a job's output."""


def console():
    """The rich console of the tool (stdout)."""
    import sys

    from rich.console import Console

    # piped output is read by grep and scripts: wide rows rather than wrapped cells
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def print_json(value: Any) -> None:
    """Machine-readable output of a read verb."""
    print(json.dumps(value, indent=2))


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    """Print a table of rows (None shows as empty)."""
    from rich.table import Table

    grid = Table(title=title)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*["" if v is None else str(v) for v in row])
    console().print(grid)


def show_status(client: ScriptServerClient, args: argparse.Namespace) -> int:
    """The server's state, the queue's hold and finish time, and the current job."""
    status = client.status()
    current = client.current()
    if args.json:
        print_json({**status, "current": current, "finish": client.get("QUEUE:FINISH")})
        return 0
    jobs = f"{status['queue_count']} job{'' if status['queue_count'] == 1 else 's'}"
    unknown = current is not None and current.get("estimate") is None
    eta = "?" if unknown else duration(status["queue_eta"])
    finish = "?" if unknown else client.get("QUEUE:FINISH")
    print(
        f"state {status['state']}  queue {jobs}, {'HELD' if status['hold'] else 'not held'}  "
        f"on error: {status['on_error']}  eta {eta}  finish {finish}"
    )
    if status["hold"] and status.get("hold_reason"):
        print(f"held: {hold_reason_now(status['hold_reason'], client)}")
    if current:
        group = group_text(current)
        progress = client.get("CURRENT:PROGRESS")
        print(
            f"job {current['id']} {current['name']}: line {current['line'] or '-'}, "
            + (f"{progress:.0f} %" if progress >= 0 else "? %")
            + (f", {group}" if group else "")
            + (f", {current['message']}" if current["message"] else "")
        )
    return 0


def hold_reason_now(reason: str, client: ScriptServerClient) -> str:
    """The hold's reason, saying so when the job it names has since left the queue."""
    named = re.search(r"before job (\d+)", reason)
    if named and all(job["id"] != int(named.group(1)) for job in client.queue()):
        return f"{reason} (job {named.group(1)} is no longer queued; `release` runs the rest)"
    return reason


def show_history(client: ScriptServerClient, args: argparse.Namespace) -> int:
    """Finished jobs, newest first, with the exception type and line of failures."""
    history = client.history()[: args.limit]
    if args.json:
        print_json(history)
        return 0
    rows = [
        [
            j["id"],
            j["name"],
            j["state"],
            (j["finished"] or "")[11:19],
            duration(j["elapsed"]),
            failure(j["error"]),
            preflight_text(j.get("preflight"), 60) if j.get("preflight") else "not checked",
        ]
        for j in history
    ]
    table("history", ["id", "name", "state", "finished", "took", "error", "pre-flight"], rows)
    return 0


def show_commands(client: ScriptServerClient, args: argparse.Namespace) -> int:
    """The command catalogue, or one command's full help."""
    if args.name:
        command = client.command(args.name)
        if args.json:
            print_json(command)
            return 0
        print(command["signature"])
        if command.get("import_error"):
            print(f"CANNOT RUN: {command['import_error']}")
        print()
        print(command.get("doc") or command.get("description") or "(no description)")
        rows = [
            [
                p["name"],
                p.get("type") or "any",
                "required" if p.get("required") else repr(p.get("default")),
                p.get("description") or "",
            ]
            for p in command.get("params", [])
        ]
        if rows:
            print()
            table(None, ["parameter", "type", "default", "description"], rows)
        print(f"\nsource: {command.get('source', '?')}")
        return 0
    commands = client.commands()
    if args.json:
        print_json(commands)
        return 0
    table(
        "commands",
        ["signature", "description"],
        [[c["signature"], _listed_description(c)] for c in commands],
    )
    broken = [c["name"] for c in commands if c.get("import_error")]
    if broken:
        print(f"{len(broken)} cannot run ({', '.join(broken)}): `commands NAME` says why")
    return 0


def _listed_description(command: dict[str, Any]) -> str:
    """The description, marked when the command cannot run (its module does not import)."""
    if command.get("import_error"):
        return f"CANNOT RUN: {command['import_error']}"
    return command["description"]


def job_source(job: dict[str, Any]) -> str:
    """What a job runs: its script, the call of a command job, or the file it names."""
    if job["kind"] == "script":
        return job["script"] or ""
    if job["kind"] == "command":
        args = ", ".join(f"{k}={v!r}" for k, v in (job.get("args") or {}).items())
        return f"{job['command']}({args})"
    return f"(script file {job['file']} on the server)"


def show_job(client: ScriptServerClient, args: argparse.Namespace) -> int:
    """One job's record, what it runs, its checks and pre-flight and, when finished, its error."""
    job = client.job(args.id)
    if args.json:
        print_json(job)
        return 0
    out = console()
    out.print(f"[bold]job {job['id']}[/bold] {job['name']!s}", markup=True, highlight=False)
    fields = [
        ("state", job["state"]),
        ("kind", job["kind"]),
        ("group", group_text(job)),
        ("created", job["created"]),
        ("started", job["started"]),
        ("finished", job["finished"]),
        ("took", duration(job["elapsed"]) if job["elapsed"] is not None else None),
        ("estimate", f"{duration(job['estimate'])} ({job['estimate_source']})"),
        ("line", job["line"]),
        ("message", job["message"]),
        ("rerun of", job["rerun_of"]),
        ("exit code", job["exit_code"]),
    ]
    for label, value in fields:
        if value not in (None, ""):
            print(f"  {label:<10} {value}")
    print("checks at submit: " + ("no warnings" if not job["warnings"] else "warnings"))
    for warning in job["warnings"]:
        print(f"  warning: {warning}")
    show_preflight(job.get("preflight"), started=bool(job.get("started")))
    print("runs:")
    for line in job_source(job).splitlines():
        print(f"  | {line}")
    if job["error"]:
        print(f"error: {failure(job['error'])}")
        for line in (job["error"].get("traceback") or "").rstrip().splitlines():
            print(f"  {line}")
    return 0


def show_preflight(record: dict[str, Any] | None, started: bool = False) -> None:
    """The job's pre-flight: verdict, where it fails and why, its estimate and beam.

    A job that started without a verdict is not waiting for one: it was `not checked`.
    """
    if not record and started:
        print("pre-flight: not checked (the job started before its check was done)")
        return
    print("pre-flight: " + preflight_text(record))
    if not record:
        return
    if record.get("estimate") is not None:
        beam = beam_text(record.get("beam"))
        print(f"  estimate {duration(record['estimate'])}" + (f", beam {beam}" if beam else ""))
    partial = record.get("partial_estimate")
    if record.get("estimate") is None and isinstance(partial, dict):
        past = f": not counted past line {partial['line']}" if partial.get("line") else ""
        print(f"  estimate at least {duration(partial.get('seconds') or 0.0)}{past}")
    for warning in record.get("warnings") or []:
        print(f"  warning: {warning}")
    show_withheld(record.get("withheld"))
    if record.get("checked"):
        print(f"  checked {record['checked']}")


def show_withheld(withheld: list[str] | None) -> None:
    """What a dry run did not do (files it would remove, PV writes not sent...)."""
    if withheld:
        print("  what the dry run did not do:")
        for text in withheld:
            print(f"    {text}")


def local_log(job_id: int) -> Path | None:
    """The job's log file if the server's data directory is readable here."""
    data = os.environ.get("SCRIPTSERVER_DATA")
    if not data:
        return None
    path = Path(data) / "logs" / f"job-{job_id}.log"
    return path if path.is_file() else None


def _new_part(old: str, new: str) -> str:
    """What `new` (a tail of the output) adds to `old` (the previous tail)."""
    if new.startswith(old):
        return new[len(old) :]
    anchor = old[-256:]
    at = new.rfind(anchor) if anchor else -1
    return new[at + len(anchor) :] if at >= 0 else "\n[... output skipped ...]\n" + new


def show_log(client: ScriptServerClient, args: argparse.Namespace) -> int:
    """A job's output (followed live with -f), or without an id the server's event log."""
    if args.id is None:
        text = client.get_text("LOG")
        print_json({"log": text}) if args.json else print(
            text, end="" if text.endswith("\n") else "\n"
        )
        return 0
    path = local_log(args.id)
    if path is not None and not args.follow:
        text = path.read_text(encoding="utf-8", errors="replace")
    elif client.get("CURRENT:ID") == args.id or (
        client.get("CURRENT:ID") == 0 and client.get("LAST:ID") == args.id
    ):
        text = client.get_text("CURRENT:OUTPUT")
    elif args.follow and any(j["id"] == args.id for j in client.queue()):
        print(f"job {args.id} is queued; waiting for it to start ...", flush=True)
        client.wait_for(lambda: client.get("CURRENT:ID") == args.id, timeout=10**9, interval=0.5)
        text = ""
    else:
        text = client.output(args.id)  # any job the server has a log of
    if args.json and not args.follow:
        print_json({"id": args.id, "output": text})
        return 0
    if not text and not args.follow:
        return _no_output(client, args.id)
    print(text, end="" if text.endswith("\n") or args.follow else "\n", flush=True)
    if args.follow:
        follow_output(client, args.id, text)
    return 0


def _no_output(client: ScriptServerClient, job_id: int) -> int:
    """A job that printed nothing: say so, and how it stands (its state and message)."""
    print("(no output)")
    try:
        job = client.job(job_id)
    except ClientError:
        return 0
    print(f"job {job_id} {job['state']}" + (f": {job['message']}" if job["message"] else ""))
    if job.get("error"):
        print(f"error: {failure(job['error'])}")
    return 0


def follow_output(client: ScriptServerClient, job_id: int, seen: str) -> None:
    """Print the job's output as it grows until the job ends; then its result."""
    from .formatting import result_line

    while client.get("CURRENT:ID") == job_id:
        time.sleep(FOLLOW_INTERVAL)
        text = client.get_text("CURRENT:OUTPUT")
        print(_new_part(seen, text), end="", flush=True)
        seen = text
    if client.get("CURRENT:ID") == 0:
        print(_new_part(seen, client.get_text("CURRENT:OUTPUT")), end="", flush=True)
    record = client.wait_for(lambda: client.finished(job_id), timeout=30)
    print(f"\n{result_line(record)}")
