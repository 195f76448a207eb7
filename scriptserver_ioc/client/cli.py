"""`scriptserver`: the console tool for a script server (queue, jobs, control).

Examples::

    scriptserver status
    scriptserver add "set_ei(25)"
    scriptserver add --script my_scan.py --name "overnight scan"
    scriptserver queue
    scriptserver move 17 --to 0
    scriptserver pause --now
    scriptserver watch
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from .client import ClientError, ScriptServerClient


def default_prefix() -> str:
    """SCRIPTSERVER_PREFIX, else `$(MYPVPREFIX)CS:SCRIPTSERVER:`."""
    return os.environ.get("SCRIPTSERVER_PREFIX") or (
        os.environ.get("MYPVPREFIX", "") + "CS:SCRIPTSERVER:"
    )


def _console():
    from rich.console import Console

    return Console()


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    _console().print(table)


def _seconds(value: float | None) -> str:
    if value is None or value < 0:
        return "?"
    minutes, seconds = divmod(int(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def show_status(client: ScriptServerClient, args: argparse.Namespace) -> None:
    """Print the server state and the current job."""
    status = client.get_json("STATUS")
    current = client.get_json("CURRENT")
    print(
        f"state {status['state']}  queue {status['queue_count']} jobs  "
        f"{'HELD' if status['hold'] else 'running'}  on error: {status['on_error']}  "
        f"eta {_seconds(status['queue_eta'])}"
    )
    if current:
        print(
            f"job {current['id']} {current['name']}: line {current['line']}, "
            f"{client.get('CURRENT:PROGRESS'):.0f} %, {current['message']}"
        )


def show_queue(client: ScriptServerClient, args: argparse.Namespace) -> None:
    """Print the queue as a table."""
    rows = [
        [j["id"], j["name"], j["kind"], _seconds(j["estimate"]), len(j["warnings"]) or ""]
        for j in client.queue()
    ]
    _table("queue", ["id", "name", "kind", "estimate", "warnings"], rows)


def show_history(client: ScriptServerClient, args: argparse.Namespace) -> None:
    """Print the finished jobs as a table."""
    rows = [
        [
            j["id"],
            j["name"],
            j["state"],
            j["finished"],
            _seconds(j["elapsed"]),
            (j["error"] or {}).get("message", ""),
        ]
        for j in client.get_json("HISTORY")
    ]
    _table("history", ["id", "name", "state", "finished", "took", "error"], rows)


def show_commands(client: ScriptServerClient, args: argparse.Namespace) -> None:
    """Print the command catalogue as a table."""
    rows = [[c["signature"], c["description"]] for c in client.get_json("COMMANDS")]
    _table("commands", ["signature", "description"], rows)


def show_log(client: ScriptServerClient, args: argparse.Namespace) -> None:
    """Print the server's event log."""
    print(client.get_text("LOG"))


def watch(client: ScriptServerClient, args: argparse.Namespace) -> None:
    """Follow the current job with a progress bar until the server is idle."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    ) as progress:
        task = progress.add_task("waiting", total=100)
        while True:
            current = client.get_json("CURRENT")
            if current is None and client.get("QUEUE:COUNT") == 0:
                break
            if current is not None:
                percent = max(0.0, client.get("CURRENT:PROGRESS"))
                progress.update(
                    task,
                    completed=percent,
                    description=(
                        f"job {current['id']} {current['name'][:30]} line {current['line'] or '-'}"
                    ),
                )
            time.sleep(0.5)


def _job_spec(args: argparse.Namespace) -> str | dict[str, Any]:
    if args.script:
        spec: dict[str, Any] = {"script": Path(args.script).read_text(encoding="utf-8")}
    elif args.file:
        spec = {"file": args.file}
    elif args.call:
        spec = {"call": args.call}
    else:
        raise ClientError("give a call such as 'set_ei(25)', --script FILE or --file NAME")
    for key in ("name", "request_id"):
        if getattr(args, key, None):
            spec[key] = getattr(args, key)
    if getattr(args, "blackbox", False):
        spec["blackbox"] = True
    return spec


def _report(reply: dict[str, Any] | None) -> None:
    if reply is None:
        raise ClientError("no reply from the server")
    if not reply["ok"]:
        raise ClientError(reply["message"])
    print(reply["message"])


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the console tool."""
    parser = argparse.ArgumentParser(
        prog="scriptserver",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--prefix", default=default_prefix(), help="the server's PV prefix")
    sub = parser.add_subparsers(dest="action", required=True)
    for name, func in (
        ("status", show_status),
        ("queue", show_queue),
        ("history", show_history),
        ("commands", show_commands),
        ("log", show_log),
        ("watch", watch),
    ):
        sub.add_parser(name, help=func.__doc__).set_defaults(func=func)
    for name, help_text in (("add", "queue a job"), ("validate", "check a job without queueing")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("call", nargs="?", help="a command call, e.g. 'set_ei(25)'")
        p.add_argument("--script", help="a Python file to send as a script job")
        p.add_argument("--file", help="a script file in the server's scripts directory")
        p.add_argument("--name", help="the job's name")
        p.add_argument("--blackbox", action="store_true", help="run untraced")
        if name == "validate":
            p.add_argument("--dry-run", action="store_true", help="simulate the job")
    p = sub.add_parser("remove", help="delete queued jobs")
    p.add_argument("ids", nargs="+", help="job ids, or 'all'")
    p = sub.add_parser("move", help="reorder the queue")
    p.add_argument("id", type=int)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--to", help="index afterwards (0 = next), 'top' or 'bottom'")
    where.add_argument("--before", type=int)
    where.add_argument("--after", type=int)
    where.add_argument("--by", type=int, help="places to move (negative = earlier)")
    for name, help_text in (
        ("skip", "skip a queued job or end the current one"),
        ("repeat", "copy a queued job after itself"),
        ("rerun", "queue a finished job again"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("id", type=int)
    p = sub.add_parser("pause", help="pause the current job")
    p.add_argument("--now", action="store_true", help="suspend at once instead of at a pause point")
    p = sub.add_parser("abort", help="abort the current job")
    p.add_argument("--kill", action="store_true", help="kill at once")
    for name in ("resume", "stop", "clear", "hold", "release", "reload"):
        sub.add_parser(name)
    return parser


def run(args: argparse.Namespace, client: ScriptServerClient) -> None:
    """Carry out one action."""
    if hasattr(args, "func"):
        args.func(client, args)
        return
    action = args.action
    if action == "add":
        _report(client.put("QUEUE:ADD", _job_spec(args)))
    elif action == "validate":
        spec = _job_spec(args)
        spec = {"call": spec} if isinstance(spec, str) else spec
        if args.dry_run:
            spec["dry_run"] = True
        client.put("VALIDATE", spec)
        print(json.dumps(client.get_json("VALIDATE:RESULT"), indent=2))
    elif action == "remove":
        value = "all" if args.ids == ["all"] else json.dumps([int(i) for i in args.ids])
        _report(client.put("QUEUE:REMOVE", value))
    elif action == "move":
        how = next(k for k in ("to", "before", "after", "by") if getattr(args, k) is not None)
        target = getattr(args, how)
        if how == "to" and str(target).isdigit():
            target = int(target)
        _report(client.put("QUEUE:MOVE", {"id": args.id, how: target}))
    elif action in ("skip", "repeat", "rerun"):
        _report(client.put(f"QUEUE:{action.upper()}", str(args.id)))
    elif action == "pause":
        _report(client.put("PAUSE", 2 if args.now else 1))
    elif action == "abort":
        _report(client.put("ABORT", 2 if args.kill else 1))
    else:
        pv, value = {
            "resume": ("RESUME", 1),
            "stop": ("STOP", 1),
            "clear": ("QUEUE:CLEAR", 1),
            "hold": ("QUEUE:HOLD", 1),
            "release": ("QUEUE:HOLD", 0),
            "reload": ("COMMANDS:RELOAD", 1),
        }[action]
        _report(client.put(pv, value))


def main(argv: list[str] | None = None) -> int:
    """Entry point of `scriptserver`."""
    args = build_parser().parse_args(argv)
    try:
        run(args, ScriptServerClient(args.prefix))
    except (ClientError, OSError) as exc:
        print(f"scriptserver: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
