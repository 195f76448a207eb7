"""`scriptserver`: the console tool for a script server (queue, jobs, control).

Examples::

    scriptserver status
    scriptserver add "do_sans(1, 'water')" --wait
    scriptserver add --script my_scan.py --name "overnight scan"
    scriptserver edit 17                 (opens $EDITOR on the job's text)
    scriptserver queue --png night.png
    scriptserver move 17 --to 0
    scriptserver show 17
    scriptserver log 17 -f
    scriptserver pause --now
    scriptserver watch --until-idle

Write verbs print the server's reply and any warnings; the exit code is 1 when the server
refuses a write or a validation fails, 2 for a wrong command line, 130 after Ctrl-C.
`add --wait` exits with the job's outcome: 0 DONE, 1 FAILED, 3 ABORTED, SKIPPED or
INTERRUPTED.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from ..contract import tags
from ..contract.enums import ON_ERROR_MODES
from .client import ClientError, Refused, Reply, ScriptServerClient
from .formatting import duration
from .interactive import edit_in_editor, spec_from_edit, wait_for_outcome
from .plots import show_plots
from .timeline import show_queue
from .views import show_commands, show_history, show_job, show_log, show_status, show_withheld
from .watch import watch


def default_prefix() -> str:
    """SCRIPTSERVER_PREFIX, else `$(MYPVPREFIX)CS:SCRIPTSERVER:`."""
    return os.environ.get("SCRIPTSERVER_PREFIX") or (
        os.environ.get("MYPVPREFIX", "") + "CS:SCRIPTSERVER:"
    )


# -- write verbs ----------------------------------------------------------------------


def _spec(args: argparse.Namespace, required: bool = True) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if args.script:
        spec["script"] = Path(args.script).read_text(encoding="utf-8")
        # the server names a script job after the file it came from (unless --name)
        spec["tags"] = {tags.SOURCE_FILE: Path(args.script).name}
    if args.file:
        spec["file"] = args.file
    if args.call:
        spec["call"] = args.call
    if len([key for key in ("script", "file", "call") if key in spec]) > 1:
        raise ClientError("give one of: a call, --script FILE, --file NAME")
    if not spec and required:
        raise ClientError("give a call such as 'set_ei(25)', --script FILE or --file NAME")
    if args.name:
        spec["name"] = args.name
    if args.blackbox is not None:
        spec["blackbox"] = args.blackbox
    return spec


def report(client: ScriptServerClient, reply: Reply) -> int:
    """Print a reply and the warnings of the jobs it names; the exit code."""
    if not reply.ok:
        print(f"scriptserver: refused: {reply.message}", file=sys.stderr)
        return 1
    print(reply.message)
    if reply.pv in ("QUEUE:ADD", "QUEUE:UPDATE", "QUEUE:RERUN", "QUEUE:REPEAT"):
        queued = {job["id"]: job for job in client.queue()}
        for job_id in reply.job_ids:
            job = queued.get(job_id)
            if job is None:
                continue
            estimate = f", estimate {duration(job['estimate'])}" if job["estimate"] else ""
            print(f"  job {job_id}: {job['name']}{estimate}")
            for warning in job["warnings"]:
                print(f"  warning: {warning}")
    return 0


def do_add(client: ScriptServerClient, args: argparse.Namespace) -> int:
    """Queue a job: a command call, a script file's text, or a server-side script file."""
    spec = _spec(args)
    added = client.add(spec, position=args.position, check=False)
    code = report(client, added.reply)
    if code != 0 or not args.wait:
        return code
    return wait_for_outcome(client, added[0])


def do_edit(client: ScriptServerClient, args: argparse.Namespace) -> int:
    """Edit a queued (or the running) job; given nothing to change, its text in $EDITOR."""
    fields = _spec(args, required=False)
    if fields:  # new content, a name or a flag: no editor
        if "tags" in fields:
            job = client.job(args.id)
            if job["state"] in ("RUNNING", "PAUSED"):  # a running job's edit is its script only
                del fields["tags"]
            else:  # keep the job's other tags (its group, ...)
                fields["tags"] = {**(job.get("tags") or {}), **fields["tags"]}
        return report(client, client.update(args.id, check=False, **fields))
    job = client.job(args.id)
    if job["state"] not in ("QUEUED", "RUNNING", "PAUSED"):
        raise ClientError(f"job {args.id} is {job['state']}: `rerun {args.id}` queues it again")
    text = edit_in_editor(job)
    if text is None:
        print(f"no change: job {args.id} left as it was")
        return 0
    return report(client, client.update(args.id, check=False, **spec_from_edit(job, text)))


def do_validate(client: ScriptServerClient, args: argparse.Namespace) -> int:
    """Check a job without queueing it; with --dry-run simulate it. Exit 1 if it would fail."""
    result = client.validate(_spec(args), dry_run=args.dry_run)
    dry = result.get("dry_run") or {}
    # a dry run stopped by an effect it does not carry out (a program) says nothing against it
    halted = (dry.get("error") or {}).get("type") == "DryRunHalted"
    ok = bool(result["ok"]) and (not args.dry_run or bool(dry.get("ok")) or halted)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if ok else 1
    print("valid" if result["ok"] else "invalid")
    for error in result["errors"]:
        where = f"line {error['line']}: " if error.get("line") else ""
        print(f"  error: {where}{error['message']}")
    for warning in result["warnings"]:
        print(f"  warning: {warning}")
    if result.get("estimate") is not None:
        print(f"  estimate {duration(result['estimate'])}")
    if args.dry_run and dry:
        verdict = "ok" if dry.get("ok") else "stopped (not checked past it)" if halted else "FAILED"
        print(f"dry run: {verdict}, takes {duration(dry.get('estimate'))}")
        for step in dry.get("steps", [])[:50]:
            print(f"  t={duration(step.get('t'))} line {step.get('line')}: {step.get('what')}")
        if dry.get("error"):
            error = dry["error"]
            print(
                f"  error: {error.get('type')} at line {error.get('line')}: {error.get('message')}"
            )
        show_withheld(dry.get("withheld"))
    return 0 if ok else 1


def do_move(client: ScriptServerClient, args: argparse.Namespace) -> int:
    """Move a queued job."""
    if args.to is not None:
        to: int | str = int(args.to) if args.to.lstrip("-").isdigit() else args.to
        return report(client, client.move(args.id, to=to, check=False))
    return report(
        client, client.move(args.id, before=args.before, after=args.after, by=args.by, check=False)
    )


def do_remove(client: ScriptServerClient, args: argparse.Namespace) -> int:
    """Delete queued jobs."""
    ids: str | list[int] = "all" if args.ids == ["all"] else [int(i) for i in args.ids]
    return report(client, client.remove(ids, check=False))


def do_simple(client: ScriptServerClient, args: argparse.Namespace) -> int:
    """The verbs that take at most an id or a flag."""
    verb = args.action
    calls = {
        "skip": lambda: client.skip(args.id, check=False),
        "repeat": lambda: client.repeat(args.id, times=args.times, check=False),
        "rerun": lambda: client.rerun(args.id, check=False),
        "pause": lambda: client.pause(now=args.now, check=False),
        "abort": lambda: client.abort(kill=args.kill, check=False),
        "resume": lambda: client.resume(check=False),
        "stop": lambda: client.stop(check=False),
        "clear": lambda: client.clear(check=False),
        "hold": lambda: client.hold(check=False),
        "release": lambda: client.release(check=False),
        "reload": lambda: client.reload_commands(check=False),
        "on-error": lambda: client.set_on_error(args.mode, check=False),
    }
    return report(client, calls[verb]())


# -- the parser -----------------------------------------------------------------------

SIMPLE_VERBS = {
    "resume": "continue a paused job",
    "stop": "abort the current job and empty the queue",
    "clear": "delete every queued job",
    "hold": "finish the current job and start no new one",
    "release": "start queued jobs again",
    "reload": "re-read the command sources now",
}


def _job_options(p: argparse.ArgumentParser, edit: bool = False) -> None:
    p.add_argument("call", nargs="?", help="a command call, e.g. 'set_ei(25)'")
    p.add_argument("--script", help="a Python file whose text is sent as a script job")
    p.add_argument("--file", help="a script file in the server's scripts directory")
    p.add_argument("--name", help="the job's name")
    box = p.add_mutually_exclusive_group()
    box.add_argument("--blackbox", action="store_true", default=None, help="run untraced")
    if edit:
        box.add_argument("--traced", dest="blackbox", action="store_false", help="run traced")


class Parser(argparse.ArgumentParser):
    """argparse with "did you mean" for a mistyped verb or choice."""

    def error(self, message: str):
        """Print usage and the error, with the nearest valid choice; exit 2."""
        wrong = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if wrong:
            choices = re.findall(r"'([^']*)'", wrong.group(2)) or wrong.group(2).split(", ")
            near = difflib.get_close_matches(wrong.group(1), choices, n=1, cutoff=0.5)
            hint = f"did you mean {near[0]!r}? " if near else ""
            message = (
                f"{message.split(':')[0]}: unknown {wrong.group(1)!r}; {hint}"
                f"choose from {', '.join(choices)}"
            )
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the console tool."""
    parser = Parser(
        prog="scriptserver",
        description=__doc__.split("\n")[0],
        epilog="\n".join(__doc__.split("\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--prefix", default=default_prefix(), help="the server's PV prefix")
    parser.add_argument("--timeout", type=float, default=5.0, help="CA timeout in seconds")
    sub = parser.add_subparsers(dest="action", required=True, metavar="VERB")

    def verb(
        name: str, func, help_text: str, json_flag: bool = False, aliases: tuple[str, ...] = ()
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, aliases=list(aliases))
        p.set_defaults(func=func)
        if json_flag:
            p.add_argument("--json", action="store_true", help="print JSON for scripts")
        return p

    verb("status", show_status, "the server's state and the current job", True)
    p = verb("queue", show_queue, "queued jobs with planned start and finish, and a timeline", True)
    p.add_argument("--png", metavar="FILE", help="also plot the timeline to FILE (matplotlib)")
    p = verb("history", show_history, "finished jobs, newest first, with errors", True)
    p.add_argument("--limit", type=int, default=100, help="show at most this many")
    p = verb("commands", show_commands, "the command catalogue, or one command's full help", True)
    p.add_argument("name", nargs="?", help="a command name")
    p = verb("show", show_job, "one job: record, script, verdict, error and traceback", True)
    p.add_argument("id", type=int)
    p = verb("log", show_log, "a job's output (-f: follow it); no id: the server's event log", True)
    p.add_argument("id", type=int, nargs="?")
    p.add_argument("-f", "--follow", action="store_true", help="follow the output live")
    p = verb("plots", show_plots, "the figures a job saved (PNG files); --open shows them", True)
    p.add_argument("id", type=int)
    p.add_argument("--open", action="store_true", help="open them with the desktop's viewer")
    p = verb("watch", watch, "follow the queue live, waiting for work (Ctrl-C leaves)")
    p.add_argument("--plain", action="store_true", help="one line per change, even on a terminal")
    p.add_argument(
        "--until-idle",
        action="store_true",
        help="end when nothing runs and nothing will start (idle, queue empty or held)",
    )

    p = verb("add", do_add, "queue a job and print its warnings")
    _job_options(p)
    p.add_argument("--position", type=int, help="insert at this index (0 = next)")
    p.add_argument(
        "--wait",
        action="store_true",
        help="wait for the job's end; exit 0 DONE, 1 FAILED, 3 ABORTED/SKIPPED/INTERRUPTED",
    )
    p = verb(
        "edit",
        do_edit,
        "edit a queued or the running job (QUEUE:UPDATE); no new content: open $EDITOR",
        aliases=("update",),
    )
    p.add_argument("id", type=int)
    _job_options(p, edit=True)
    p = verb(
        "validate", do_validate, "check a job without queueing (exit 1 if it would fail)", True
    )
    _job_options(p)
    p.add_argument("--dry-run", action="store_true", help="simulate the job on the server")
    p = verb("remove", do_remove, "delete queued jobs")
    p.add_argument("ids", nargs="+", help="job ids, or 'all'")
    p = verb("move", do_move, "reorder the queue")
    p.add_argument("id", type=int)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--to", help="index afterwards (0 = next), 'top' or 'bottom'")
    where.add_argument("--before", type=int, help="put it before this job id")
    where.add_argument("--after", type=int, help="put it after this job id")
    where.add_argument("--by", type=int, help="places to move (negative = earlier)")
    for name, help_text in (
        ("skip", "skip a queued job, or end the current one and go on"),
        ("rerun", "queue a finished job again"),
        ("repeat", "insert copies of a queued job after it"),
    ):
        p = verb(name, do_simple, help_text)
        p.add_argument("id", type=int)
        if name == "repeat":
            p.add_argument("--times", type=int, default=1, help="number of copies")
    p = verb("pause", do_simple, "pause the current job at its next pause point")
    p.add_argument("--now", action="store_true", help="suspend its processes at once")
    p = verb("abort", do_simple, "abort the current job (the queue is then held)")
    p.add_argument("--kill", action="store_true", help="kill it at once")
    p = verb("on-error", do_simple, "after a failed job: hold the queue or continue")
    p.add_argument("mode", type=str.upper, choices=ON_ERROR_MODES)
    for name, help_text in SIMPLE_VERBS.items():
        verb(name, do_simple, help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `scriptserver`; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(ScriptServerClient(args.prefix, timeout=args.timeout), args)
    except BrokenPipeError:  # `scriptserver queue | head`: the reader has all it wants
        _quiet_stdout()
        return 141  # as a program ended by SIGPIPE
    except Refused as exc:
        print(f"scriptserver: refused: {exc}", file=sys.stderr)
        return 1
    except (ClientError, OSError, ValueError) as exc:
        print(f"scriptserver: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def _quiet_stdout() -> None:
    """Send what is left of stdout to the null device: no second error at exit."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
