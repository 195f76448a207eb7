"""The launcher's command line: ``--key K --runtime DIR [options]`` read into a dict.

Runs inside job processes: standard library only, Python 3.8+, nothing imported from the
rest of the package (``launcher.py`` imports it from its own directory, like its other
helpers, and forgets its name before the job runs). The options are listed in
``launcher.py``'s docstring.
"""

from __future__ import annotations


def parse_args(argv):
    """Parse the launcher's options (no argparse: it would cost start-up time)."""
    options = {
        "command_dirs": [],
        "job_id": None,
        "log": None,
        "prelude": None,
        "line_interval": 0.02,
        "trace_mode": None,
        "key": None,
        "runtime": None,
        "server_pid": None,
    }
    names = {
        "--key": "key",
        "--runtime": "runtime",
        "--job-id": "job_id",
        "--log": "log",
        "--prelude": "prelude",
        "--line-interval": "line_interval",
        "--trace-mode": "trace_mode",
        "--command-dir": "command_dirs",
        "--server-pid": "server_pid",
    }
    args = list(argv)
    while args:
        flag = args.pop(0)
        if flag not in names or not args:
            raise SystemExit(f"launcher: unknown option or missing value: {flag}")
        value = args.pop(0)
        name = names[flag]
        if name == "command_dirs":
            options[name].append(value)
        elif name in ("job_id", "server_pid"):
            options[name] = int(value)
        elif name == "line_interval":
            options[name] = float(value)
        else:
            options[name] = value
    if not options["key"] or not options["runtime"]:
        raise SystemExit("launcher: --key and --runtime are required")
    return options
