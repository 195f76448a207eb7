"""Benchmark: the checker's complete view at start, against the number of modules that block.

Run: python bench/bench_catalogue_start.py [--fast 110] [--blocking 0,1,10,100]
     [--slow-seconds 15] [--starts 3]

For each count in `--blocking`, a command directory of `--fast` modules (half with `def`
commands, half with commands made by a `locals()` loop, which only the checker process
can describe) and that many modules that sleep `--slow-seconds` at import (standing for a
PV read that times out; slow in the checker and in jobs). A real IOC in a subprocess, read
over Channel Access: seconds from starting the IOC to

- COMMANDS holding every command of the fast modules (the checker's complete view);
- COMMANDS:ERRORS naming every blocking module as slow.

Median and max over `--starts` IOC starts per directory. The baseline, measured in the
same run, is the directory without blocking modules (count 0); each count's ratio to it
is printed. `uptime` is printed before and after (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_catalogue_reload import DEF_MODULE, LOOP_MODULE, SLEEP_MODULE, run  # noqa: E402


def make_directory(fast: int, blocking: int, seconds: float) -> tuple[Path, int]:
    """The command directory and the command count of its fast modules."""
    root = Path(tempfile.mkdtemp(prefix="bench-start-")) / "commands"
    root.mkdir()
    for n in range(fast):
        template = DEF_MODULE if n % 2 == 0 else LOOP_MODULE
        (root / f"station_{n:03d}.py").write_text(template.format(n=n))
    for n in range(blocking):
        text = SLEEP_MODULE.format(n=f"blocking{n}", seconds=seconds)
        (root / f"blocking_{n:03d}.py").write_text(text)
    return root, 2 * fast


def figure(samples: list, cap: float) -> str:
    if not samples or any(s is None for s in samples):
        return f"> {cap:g} s (cap reached)"
    return f"median {statistics.median(samples):.2f} s, max {max(samples):.2f} s"


def ratio(samples: list, base: list) -> str:
    if any(s is None for s in samples + base):
        return "-"
    return f"{statistics.median(samples) / statistics.median(base):.2f}"


def measure(options, blocking: int) -> tuple[list, list]:
    """Seconds to the complete view and to every blocking module named, per IOC start."""
    directory, expected = make_directory(options.fast, blocking, options.slow_seconds)
    first, named = [], []
    for _ in range(options.starts):
        result = run(directory, (expected, expected), blocking, 0, options.cap)
        first.append(result["first"])
        named.append(result["named"])
    return first, named


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", type=int, default=110)
    parser.add_argument("--blocking", default="0,1,10,100")
    parser.add_argument("--slow-seconds", type=float, default=15.0)
    parser.add_argument("--starts", type=int, default=3, help="IOC starts per count (at most 8)")
    parser.add_argument("--cap", type=float, default=120.0)
    parser.add_argument("--only", type=int, help=argparse.SUPPRESS)  # one count, JSON out
    options = parser.parse_args()
    if options.only is not None:
        print(json.dumps(measure(options, options.only)))
        return
    counts = [int(c) for c in options.blocking.split(",")]
    if 0 not in counts:
        counts.insert(0, 0)  # the baseline
    print("uptime before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout)
    print(
        f"{options.fast} fast modules ({2 * options.fast} commands) plus N that sleep "
        f"{options.slow_seconds:g} s at import; {options.starts} IOC starts each"
    )
    results = {}
    for blocking in counts:  # one process per count: its CA ports are fixed at import
        argv = [sys.executable, __file__, "--only", str(blocking)]
        for name in ("fast", "slow_seconds", "starts", "cap"):
            argv += [f"--{name.replace('_', '-')}", str(getattr(options, name))]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        results[blocking] = json.loads(out.strip().splitlines()[-1])
    base = results[0][0]
    for blocking, (first, named) in results.items():
        print(f"N = {blocking} blocking modules:")
        print(
            f"  checker's complete view of the fast modules: {figure(first, options.cap)}"
            f" (ratio to N = 0: {ratio(first, base)})"
        )
        if blocking:
            print(f"  every blocking module named slow: {figure(named, options.cap)}")
    print("uptime after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout)


if __name__ == "__main__":
    main()
