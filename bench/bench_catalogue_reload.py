"""Benchmark: hot reload and first complete catalogue of a large command directory, over CA.

Run: python bench/bench_catalogue_reload.py [--fast 110] [--slow 10] [--slow-seconds 15]
     [--edits 10] [--before REV]

Generates a command directory of `--fast` modules (half with `def` commands, half with
commands made by a `locals()` loop of an instrument object, which only the checker
process can describe) and `--slow` modules that block at import: half read five PVs
nobody serves through genie_python at module level (instant in the checker's simulation,
3 s each in the job's environment: the companion worker's warm-up), half sleep
`--slow-seconds` at import (standing for a read that times out, slow in both). Then, with
a real IOC in a subprocess, read over Channel Access (COMMANDS:COUNT, COMMANDS:ERRORS):

- first complete catalogue: from starting the IOC to COMMANDS holding every command of
  the fast modules (the checker's view included), and to COMMANDS:ERRORS naming every slow
  module;
- hot reload, `--edits` times: from writing a new file (one `def`, one command made in
  a loop) to COMMANDS showing its `def` (syntax view), then its loop command (checker's
  view); median and max.

Baseline in the same run: the same directory without the slow modules. `--before REV`
also runs the slow directory on another revision's tree (a checkout), with one edit and a
cap of `--cap` seconds per wait (the catalogue before issue 22 waited for every import).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import _stop, checkout, start_ioc  # noqa: E402

from scriptserver_ioc.client.client import ScriptServerClient  # noqa: E402

DEF_MODULE = '''
def measure_{n}(title: str, uamps: float = 10.0):
    """Measure sample {n} for a number of microamp hours."""
    print(title, uamps)


def set_slit_{n}(width: float = 1.0):
    """Set the slit of station {n}."""
    print(width)
'''

LOOP_MODULE = '''
import functools


class _Station:
    def align_{n}(self, axis: str = "x"):
        """Align station {n} along an axis."""

    def park_{n}(self):
        """Park station {n}."""


def _wrap(obj, name):
    @functools.wraps(getattr(obj, name))
    def inner(*args, **kwargs):
        return getattr(obj, name)(*args, **kwargs)

    return inner


_obj = _Station()
for _name in ("align_{n}", "park_{n}"):
    locals()[_name] = _wrap(_obj, _name)
'''

PV_MODULE = """
from genie_python import genie as g


def _read(name):
    try:
        return g.get_pv(name, is_local=True)
    except Exception:
        return None


SETTINGS = {{name: _read(name) for name in ("A:{n}", "B:{n}", "C:{n}", "D:{n}", "E:{n}")}}
""" + LOOP_MODULE.replace("Station", "Reader")

SLEEP_MODULE = """
import time

time.sleep({seconds})  # stands for a read that times out at import
""" + LOOP_MODULE.replace("Station", "Sleeper")

EDIT = '''
def edited_{k}(value: float = 1.0):
    """Edited command {k}."""
''' + LOOP_MODULE.replace("{n}", "edit_{k}").replace("Station", "Edited")


def make_directory(fast: int, slow: int, seconds: float) -> tuple[Path, int, int]:
    """The command directory; its command count before and after the sleeping modules'.

    Those of the PV-reading modules count in the first: the checker (genie simulated) reads
    them at once. The sleeping modules' commands come when their imports end.
    """
    root = Path(tempfile.mkdtemp(prefix="bench-reload-")) / "commands"
    root.mkdir()
    for n in range(fast):
        template = DEF_MODULE if n % 2 == 0 else LOOP_MODULE
        (root / f"station_{n:03d}.py").write_text(template.format(n=n))
    for n in range(slow):
        template = PV_MODULE if n % 2 == 0 else SLEEP_MODULE
        (root / f"slow_{n:03d}.py").write_text(template.format(n=f"slow{n}", seconds=seconds))
    before = 2 * fast + 2 * ((slow + 1) // 2)
    return root, before, before + 2 * (slow // 2)


def wait_for(condition, cap: float) -> float | None:
    """Seconds until `condition()` is true (polled every 20 ms), None after `cap` seconds."""
    started = time.perf_counter()
    while time.perf_counter() - started < cap:
        if condition():
            return time.perf_counter() - started
        time.sleep(0.02)  # polling interval of the measurement, not a synchronisation
    return None


def since(started: float, waited: float | None) -> float | None:
    """Seconds from `started` to now if the wait succeeded, else None."""
    return None if waited is None else time.perf_counter() - started


def run(commands: Path, counts: tuple[int, int], slow: int, edits: int, cap: float, root=None):
    """One IOC start on `commands`: first catalogue, slow modules named, then hot reloads.

    Returns seconds from starting the IOC process to: `ready` (the syntax view served),
    `first` (the checker's view of every module that does not sleep), `named` (every slow
    module named in COMMANDS:ERRORS), `all` (the sleeping modules' commands too, once their
    imports end); and per edit the seconds to the new file's `def` (`syntax`) and to its
    loop-made command (`checker`).
    """
    expected, everything = counts
    started = time.perf_counter()
    ioc, prefix = start_ioc(commands=commands, **({"root": root} if root else {}))
    try:
        client = ScriptServerClient(prefix, timeout=30)
        count = lambda: client.get("COMMANDS:COUNT")  # noqa: E731
        ready = time.perf_counter() - started
        first = since(started, wait_for(lambda: count() >= expected, cap))

        def slow_named() -> bool:
            errors = client.get_json("COMMANDS:ERRORS")
            return len({e["file"] for e in errors if "importing module" in e["message"]}) >= slow

        named = since(started, wait_for(slow_named, cap)) if slow else None
        complete = since(started, wait_for(lambda: count() >= everything, cap))
        syntax, checker = [], []
        for k in range(edits):
            before = count()
            (commands / f"edited_{k:03d}.py").write_text(EDIT.format(k=k))
            t0 = time.perf_counter()
            seen = wait_for(lambda b=before: count() >= b + 1, cap)
            described = wait_for(lambda b=before: count() >= b + 3, cap)
            syntax.append(seen)
            checker.append(None if described is None else time.perf_counter() - t0)
        for k in range(edits):  # the next start reads the same directory as this one did
            (commands / f"edited_{k:03d}.py").unlink()
        return {
            "ready": ready,
            "first": first,
            "named": named,
            "all": complete,
            "syntax": syntax,
            "checker": checker,
        }
    finally:
        _stop(ioc)


def runs(commands: Path, counts, slow: int, starts: int, edits: int, cap: float, root=None):
    """`starts` IOC starts on one directory (edits in the last); lists of each figure."""
    results = [
        run(commands, counts, slow, edits if i == starts - 1 else 0, cap, root)
        for i in range(starts)
    ]
    return {key: [r[key] for r in results] for key in ("ready", "first", "named", "all")} | {
        key: results[-1][key] for key in ("syntax", "checker")
    }


def summary(samples: list[float | None], cap: float) -> str:
    if any(s is None for s in samples):
        return f"> {cap:g} s (cap reached)"
    return f"median {statistics.median(samples):.2f} s, max {max(samples):.2f} s"


def show(label: str, result: dict, cap: float) -> None:
    print(f"{label}:")
    print(f"  IOC ready (syntax view served): {summary(result['ready'], cap)}")
    print(f"  checker's view of every module that does not sleep: {summary(result['first'], cap)}")
    if any(result["named"]):
        print(f"  every slow module named in COMMANDS:ERRORS: {summary(result['named'], cap)}")
    print(f"  complete catalogue (sleeping modules too): {summary(result['all'], cap)}")
    print(f"  hot reload, new file's def in COMMANDS: {summary(result['syntax'], cap)}")
    print(f"  hot reload, checker's view of it: {summary(result['checker'], cap)}")


def ratio(label: str, slow: list, base: list) -> None:
    if slow and base and all(x is not None for x in slow + base):
        value = statistics.median(slow) / statistics.median(base)
        print(f"  {label} with slow modules / baseline (medians): {value:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", type=int, default=110)
    parser.add_argument("--slow", type=int, default=10)
    parser.add_argument("--slow-seconds", type=float, default=15.0)
    parser.add_argument("--starts", type=int, default=3, help="IOC starts per directory")
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--cap", type=float, default=120.0)
    parser.add_argument("--before", help="also run on this revision (one start, one edit)")
    options = parser.parse_args()

    print(
        f"{options.fast} fast modules ({2 * options.fast} commands), {options.slow} slow "
        f"(half read 5 unserved PVs via genie at import, half sleep {options.slow_seconds:g} s); "
        f"{options.starts} starts, {options.edits} edits"
    )
    directory, *counts = make_directory(options.fast, options.slow, options.slow_seconds)
    baseline_dir, *base_counts = make_directory(options.fast, 0, 0)
    args = (options.starts, options.edits, options.cap)
    base = runs(baseline_dir, base_counts, 0, *args)
    show("baseline: fast modules only", base, options.cap)
    result = runs(directory, counts, options.slow, *args)
    show("with the slow modules", result, options.cap)
    ratio("hot reload (syntax view)", result["syntax"], base["syntax"])
    ratio("hot reload (checker's view)", result["checker"], base["checker"])
    ratio("checker's view at start", result["first"], base["first"])
    if options.before:
        tree = checkout(options.before)
        directory, *counts = make_directory(options.fast, options.slow, options.slow_seconds)
        old = runs(directory, counts, 0, 1, 1, options.cap, root=tree)
        show(f"revision {options.before} with the slow modules", old, options.cap)


if __name__ == "__main__":
    main()
