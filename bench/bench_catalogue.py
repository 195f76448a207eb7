"""Benchmark of the command catalogue: reading, reloading, and watching.

Run: python bench/bench_catalogue.py [--idle-seconds 10] [--changes 10] [--instrument-only]

Generates 500 commands in 50 files (Google docstrings, annotations, defaults, estimate and
validate companions) in a temporary directory and measures, with baselines from the same run:

- cold read (`Catalogue(dirs)`) against reading + `ast.parse` alone of the same files;
- reload when nothing changed, and after one file changed (incremental);
- watcher latency: time from a file write to `on_change`, median over N changes;
- CPU used by the watcher while nothing changes, over T seconds, against an idle thread that
  wakes at the same interval and does nothing;
- an instrument of real size written as ISIS writes it (`real_instrument.py`: 60+ files,
  about 20,000 lines, packages of star re-exports, commands made by wrapper loops, aliases,
  partials, script definitions), with the checker process as the IOC runs it: catalogue
  ready (syntax read) against the bound of 1 s; the checker's view added; reload of one
  edited file (syntax and checker) against the bound of 2 s; baselines `ast.parse` of every
  file and the start of a bare interpreter.
"""

from __future__ import annotations

import argparse
import ast
import collections
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import real_instrument  # noqa: E402

from scriptserver_ioc.catalogue import Catalogue, CatalogueWatcher  # noqa: E402
from scriptserver_ioc.catalogue.live import LiveChecker  # noqa: E402
from scriptserver_ioc.catalogue.watcher import DEFAULT_INTERVAL  # noqa: E402

FILES = 50
COMMANDS_PER_FILE = 10

COMMAND = '''

def command_{f}_{c}(energy: float, steps: int = 5, mode: Literal["fast", "slow"] = "fast",
                    label: str = "", wait: bool = True, rate: Optional[float] = None) -> None:
    """Does step {c} of file {f}: positions the instrument for an energy.

    A longer explanation of what the command does, how long it takes and what it
    leaves behind, as real instrument commands have.

    Args:
        energy: incident energy in meV.
        steps: number of steps.
        mode: how fast to go.
        label: a label for the run title.
        wait: wait until done.
        rate: ramp rate, None for the default.

    Examples:
        >>> command_{f}_{c}(25.0, steps=3)
    """
    for i in range(steps):
        print(i, energy, label)


def estimate_command_{f}_{c}(energy, steps=5, mode="fast", label="", wait=True, rate=None):
    return steps * 2.0


def validate_command_{f}_{c}(energy, steps=5, mode="fast", label="", wait=True, rate=None):
    return None if energy > 0 else "energy must be positive"
'''


def generate(directory: Path) -> list[Path]:
    paths = []
    for f in range(FILES):
        body = ['"""Generated command file."""', "from typing import Literal, Optional"]
        body += [COMMAND.format(f=f, c=c) for c in range(COMMANDS_PER_FILE)]
        path = directory / f"commands_{f:02d}.py"
        path.write_text("\n".join(body), encoding="utf-8")
        paths.append(path)
    old = time.time() - 3600  # not "recently modified": no re-reads of racy files
    for path in paths:
        os.utime(path, (old, old))
    return paths


def median_time(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def parse_only(paths: list[Path]) -> None:
    for path in paths:
        ast.parse(path.read_bytes())


def bench_reading(directory: Path, paths: list[Path]) -> None:
    cold = median_time(lambda: Catalogue([directory]), 5)
    parse = median_time(lambda: parse_only(paths), 5)
    catalogue = Catalogue([directory])
    assert len(catalogue.names()) == FILES * COMMANDS_PER_FILE, catalogue.errors
    nothing = median_time(catalogue.reload, 200)
    stat_only = median_time(lambda: [os.stat(p) for p in paths], 200)

    def one_changed():
        path = paths[7]
        path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        old = time.time() - 3600 + one_changed.n
        one_changed.n += 1
        os.utime(path, (old, old))
        catalogue.reload()

    one_changed.n = 0
    incremental = median_time(one_changed, 10)
    per_file = parse / FILES
    print(f"catalogue of {len(catalogue.names())} commands in {FILES} files")
    print(
        f"  cold read              {cold * 1e3:8.1f} ms   (ast.parse alone {parse * 1e3:.1f} ms,"
        f" ratio {cold / parse:.1f}x)"
    )
    print(
        f"  reload, nothing changed{nothing * 1e3:8.3f} ms   (os.stat of every file "
        f"{stat_only * 1e3:.3f} ms, ratio {nothing / stat_only:.1f}x)"
    )
    print(
        f"  reload, one file edited{incremental * 1e3:8.1f} ms   (ast.parse of one file "
        f"{per_file * 1e3:.1f} ms, ratio {incremental / per_file:.1f}x; cold/incremental "
        f"{cold / incremental:.0f}x)"
    )


def bench_latency(directory: Path, paths: list[Path], changes: int) -> None:
    catalogue = Catalogue([directory])
    seen = threading.Event()
    watcher = CatalogueWatcher(catalogue, seen.set)
    watcher.start()
    latencies = []
    try:
        for i in range(changes):
            seen.clear()
            path = paths[i % len(paths)]
            text = path.read_text(encoding="utf-8")
            start = time.perf_counter()
            path.write_text(text.replace("Does step", f"Does ({i}) step", 1), encoding="utf-8")
            if not seen.wait(10):
                raise SystemExit(f"change {i} not seen within 10 s")
            latencies.append(time.perf_counter() - start)
            time.sleep(random.uniform(0.05, DEFAULT_INTERVAL + 0.05))  # random phase
    finally:
        watcher.stop()
    print(
        f"watcher latency, file write -> on_change ({changes} changes, interval "
        f"{DEFAULT_INTERVAL} s)"
    )
    median = statistics.median(latencies)
    print(
        f"  median {median * 1e3:.0f} ms, max {max(latencies) * 1e3:.0f} ms "
        f"(requirement 2000 ms; median / interval {median / DEFAULT_INTERVAL:.2f})"
    )


def cpu_over(seconds: float, start, stop) -> float:
    start()
    t0, c0 = time.perf_counter(), time.process_time()
    time.sleep(seconds)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    stop()
    return 100.0 * cpu / wall


def bench_idle(directory: Path, seconds: float) -> None:
    halt = threading.Event()

    def idle_thread():
        while not halt.wait(DEFAULT_INTERVAL):
            pass

    thread = threading.Thread(target=idle_thread, daemon=True)
    baseline = cpu_over(seconds, thread.start, lambda: (halt.set(), thread.join()))
    catalogue = Catalogue([directory])  # steady state: no file modified in the last 2 s
    watcher = CatalogueWatcher(catalogue, lambda: None)
    watching = cpu_over(seconds, watcher.start, watcher.stop)
    assert catalogue.revision == 1
    print(
        f"CPU while nothing changes ({seconds:g} s, {FILES} files, interval {DEFAULT_INTERVAL} s)"
    )
    print(
        f"  watcher {watching:.3f} % of one core; idle thread {baseline:.3f} %; "
        f"difference {watching - baseline:.3f} points"
    )


def bench_instrument(directory: Path, repeat: int = 5) -> None:
    paths = real_instrument.generate(directory)
    lines = real_instrument.line_count(paths)

    def live() -> LiveChecker:
        return LiveChecker(sys.executable, [directory])

    ready = median_time(lambda: Catalogue([directory], live=live()), repeat)
    parse = median_time(lambda: parse_only(paths), repeat)
    bare = median_time(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 5)

    def full() -> Catalogue:
        catalogue = Catalogue([directory], live=live())
        catalogue.reload()  # the checker's view: every module imported once
        return catalogue

    with_checker = median_time(full, repeat)
    catalogue = full()
    static = Catalogue([directory])
    edited = paths[3]  # a module of the first package (a wrapper loop)

    def one_edited():
        text = edited.read_text(encoding="utf-8")
        edited.write_text(text.replace("Move the", "Moves the", 1), encoding="utf-8")
        old = time.time() - 3600 + one_edited.n
        one_edited.n += 1
        os.utime(edited, (old, old))
        assert catalogue.reload()

    one_edited.n = 0
    reload_one = median_time(one_edited, repeat)
    found = collections.Counter(c.found for c in catalogue.commands())
    assert not catalogue.errors, catalogue.errors[:3]
    print(
        f"instrument of real size: {len(paths)} files, {lines} lines, "
        f"{len(catalogue.names())} commands ({dict(sorted(found.items()))}); "
        f"{len(static.names())} without the checker"
    )
    print(
        f"  ready (syntax read)     {ready * 1e3:8.1f} ms   (bound 1000 ms; ast.parse alone "
        f"{parse * 1e3:.1f} ms, ratio {ready / parse:.1f}x)"
    )
    print(
        f"  with the checker's view {with_checker * 1e3:8.1f} ms   (bare interpreter start "
        f"{bare * 1e3:.1f} ms)"
    )
    print(
        f"  reload, one file edited {reload_one * 1e3:8.1f} ms   (bound 2000 ms; syntax and "
        f"checker; ratio to a bare interpreter start {reload_one / bare:.1f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--instrument-only", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-instrument-") as tmp:
        bench_instrument(Path(tmp))
    if options.instrument_only:
        return
    with tempfile.TemporaryDirectory(prefix="bench-catalogue-") as tmp:
        directory = Path(tmp)
        paths = generate(directory)
        bench_reading(directory, paths)
        bench_latency(directory, paths, options.changes)
        bench_idle(directory, options.idle_seconds)


if __name__ == "__main__":
    main()
