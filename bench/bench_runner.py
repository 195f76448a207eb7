"""Benchmark of the job runner: start latency, back-to-back jobs, control latency, tracing.

Run: ``python bench/bench_runner.py`` (about a minute). Prints medians and ratios against
baselines measured in the same run:

- start: from ``start()`` on an idle runner to the job's first ``line`` event, with the
  warm spare and without it; baseline ``python -c pass`` (fork, exec, interpreter start);
- back-to-back: per-job overhead of trivial jobs, the next started from ``finished``;
- control: deferred PAUSE on a line loop until ``paused``, RESUME until ``resumed``, soft
  ABORT until ``finished``, and a job process killed from outside until its ``finished``
  (how soon the runner notices; the unit and system tests check only that it does);
- tracing: a 2-million-iteration loop in the job's own code, traced vs black-box (the
  baseline: no tracer at all), sampled (the default) and every line traced, on this
  Python and on python3.12 if installed (sys.monitoring).
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scriptserver_ioc.runner import JobRunner, RunnerSettings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CPU_LOOP = (
    "import time\n"
    "t0 = time.perf_counter()\n"
    "x = 0\n"
    "for i in range(2000000):\n"
    "    x += i\n"
    "print('ELAPSED', time.perf_counter() - t0)\n"
)


class Events:
    """Records events; lets the benchmark wait for one, or react to ``finished``."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seen: dict[tuple[int, str], float] = {}
        self.pids: dict[int, int] = {}
        self.on_finished = None

    def on_job_event(self, job_id: int, event: dict) -> None:
        now = time.perf_counter()
        with self.cond:
            self.seen.setdefault((job_id, event["type"]), now)
            if event["type"] == "started":
                self.pids[job_id] = event["pid"]
            self.cond.notify_all()
        if event["type"] == "finished" and self.on_finished is not None:
            self.on_finished(job_id, event)

    def wait(self, job_id: int, kind: str, timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        with self.cond:
            while (job_id, kind) not in self.seen:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {kind} for job {job_id}")
                self.cond.wait(remaining)
            return self.seen[(job_id, kind)]


class Bench:
    """One runner on a temporary data directory."""

    def __init__(self, python: str = sys.executable, **settings) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-runner-"))
        self.events = Events()
        self.next_id = 1
        settings.setdefault("command_dirs", [REPO / "commands"])
        self.runner = JobRunner(
            RunnerSettings(job_python=python, data_dir=self.dir, **settings), self.events
        )

    def launch(self, source: str, blackbox: bool = False) -> dict:
        job_id = self.next_id
        self.next_id += 1
        return {
            "job_id": job_id,
            "name": f"bench {job_id}",
            "kind": "script",
            "source": source,
            "filename": f"<job {job_id}>",
            "blackbox": blackbox,
            "commands": [],
            "log_path": str(self.dir / "logs" / f"job-{job_id}.log"),
        }

    def run(self, source: str, blackbox: bool = False) -> dict:
        entry = self.launch(source, blackbox)
        self.runner.start(entry)
        self.events.wait(entry["job_id"], "finished", timeout=120)
        return entry

    def close(self) -> None:
        self.runner.abort(kill=True)  # a job left by a failed benchmark must not run on
        self.runner.close()


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def bench_baseline(n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - t0)
    return median_ms(times)


def bench_start(warm: bool, n: int) -> tuple[float, float]:
    """Medians of ``start()`` to the first ``line``, and of the ``start()`` call itself."""
    bench = Bench(warm_spare=warm)
    times, calls = [], []
    try:
        for _ in range(n):
            if warm and not bench.runner.wait_for_spare(30):
                raise RuntimeError("no warm spare")
            entry = bench.launch("x = 1\ny = 2\n")
            t0 = time.perf_counter()
            bench.runner.start(entry)
            calls.append(time.perf_counter() - t0)
            times.append(bench.events.wait(entry["job_id"], "line") - t0)
            bench.events.wait(entry["job_id"], "finished")
    finally:
        bench.close()
    return median_ms(times), median_ms(calls)


def bench_back_to_back(warm: bool, n: int) -> float:
    bench = Bench(warm_spare=warm)
    done = threading.Event()
    remaining = [n]

    def next_job(job_id: int, event: dict) -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            done.set()
        else:
            bench.runner.start(bench.launch("x = 1\n"))

    try:
        if warm:
            bench.runner.wait_for_spare(30)
        bench.events.on_finished = next_job
        t0 = time.perf_counter()
        bench.runner.start(bench.launch("x = 1\n"))
        if not done.wait(300):
            raise RuntimeError("back-to-back jobs did not finish")
        return (time.perf_counter() - t0) / n * 1000
    finally:
        bench.events.on_finished = None
        bench.close()


def bench_control(n: int) -> tuple[float, float, float, float]:
    bench = Bench(warm_spare=True)
    pause, resume, abort, killed = [], [], [], []
    try:
        for _ in range(n):
            bench.runner.wait_for_spare(30)
            entry = bench.launch("x = 0\nwhile True:\n    x += 1\n")
            job_id = entry["job_id"]
            bench.runner.start(entry)
            bench.events.wait(job_id, "line")
            for _round in range(3):
                key_p, key_r = (job_id, "paused"), (job_id, "resumed")
                with bench.events.cond:
                    bench.events.seen.pop(key_p, None)
                    bench.events.seen.pop(key_r, None)
                t0 = time.perf_counter()
                assert bench.runner.pause(immediate=False) is None
                pause.append(bench.events.wait(job_id, "paused") - t0)
                t0 = time.perf_counter()
                assert bench.runner.resume() is None
                resume.append(bench.events.wait(job_id, "resumed") - t0)
            t0 = time.perf_counter()
            assert bench.runner.abort(kill=False) is None
            abort.append(bench.events.wait(job_id, "finished") - t0)
            bench.runner.wait_for_spare(30)
            entry = bench.launch("import time\nwhile True:\n    time.sleep(0.01)\n")
            job_id = entry["job_id"]
            bench.runner.start(entry)
            bench.events.wait(job_id, "line")
            t0 = time.perf_counter()
            psutil.Process(bench.events.pids[job_id]).kill()  # as by another user
            killed.append(bench.events.wait(job_id, "finished") - t0)
    finally:
        bench.close()
    return median_ms(pause), median_ms(resume), median_ms(abort), median_ms(killed)


def loop_seconds(bench: Bench, blackbox: bool) -> float:
    entry = bench.run(CPU_LOOP, blackbox=blackbox)
    text = Path(entry["log_path"]).read_text()
    return float(re.search(r"ELAPSED ([0-9.e-]+)", text).group(1))


def bench_tracing(python: str, n: int, trace_mode: str | None = None) -> tuple[float, float]:
    bench = Bench(python=python, warm_spare=False, trace_mode=trace_mode)
    try:
        traced = [loop_seconds(bench, False) for _ in range(n)]
        blackbox = [loop_seconds(bench, True) for _ in range(n)]
    finally:
        bench.close()
    return median_ms(traced), median_ms(blackbox)


def find_python312() -> str | None:
    for candidate in sorted((Path.home() / ".pyenv" / "versions").glob("3.12.*")):
        python = candidate / "bin" / "python3.12"
        if python.exists():
            return str(python)
    return None


def main() -> None:
    print(f"job runner benchmark (job python: {sys.executable}, {sys.version.split()[0]})")
    base = bench_baseline(15)
    warm, warm_call = bench_start(True, 15)
    cold, cold_call = bench_start(False, 15)
    print("\nstart() to first line event (median of 15):")
    print(f"  baseline `python -c pass`      {base:8.1f} ms")
    print(f"  warm spare                     {warm:8.1f} ms   {warm / base:5.2f} x baseline")
    print(f"  cold process                   {cold:8.1f} ms   {cold / base:5.2f} x baseline")
    print(f"  warm spare speed-up            {cold / warm:8.1f} x")
    print("the start() call itself (the caller's thread, e.g. Channel Access; median of 15):")
    print(f"  warm spare                     {warm_call:8.2f} ms")
    print(f"  cold process (spawned on a runner thread) {cold_call:8.2f} ms")

    b2b_warm = bench_back_to_back(True, 200)
    b2b_cold = bench_back_to_back(False, 50)
    print("\nback-to-back trivial jobs, next started on `finished`:")
    print(f"  warm spare (200 jobs)          {b2b_warm:8.1f} ms/job  {b2b_warm / base:5.2f} x base")
    print(f"  cold (50 jobs)                 {b2b_cold:8.1f} ms/job  {b2b_cold / base:5.2f} x base")

    pause, resume, abort, killed = bench_control(8)
    print("\ncontrol of a job looping on its own lines (median of 24/24/8/8):")
    print(f"  deferred PAUSE -> paused       {pause:8.2f} ms")
    print(f"  RESUME -> resumed              {resume:8.2f} ms")
    print(f"  soft ABORT -> finished         {abort:8.2f} ms")
    print(f"  killed from outside -> finished {killed:7.2f} ms  {killed / abort:5.2f} x soft ABORT")

    print("\ntracing overhead, 2 million iterations of `x += i` in the job's code (median of 3):")
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    rows = [
        (sys.executable, None, f"{here} (auto: sampled)"),
        (sys.executable, "settrace", f"{here} settrace"),
    ]
    py312 = find_python312()
    if py312:
        rows += [
            (py312, "sampled", "3.12 sampled"),
            (py312, "monitoring", "3.12 sys.monitoring"),
            (py312, "settrace", "3.12 settrace"),
        ]
    else:
        print("  (python3.12 not found: sys.monitoring not measured)")
    for python, mode, label in rows:
        traced, blackbox = bench_tracing(python, 3, mode)
        print(
            f"  {label:22} traced {traced:7.1f} ms  black-box {blackbox:7.1f} ms  "
            f"ratio {traced / blackbox:5.2f}"
        )


if __name__ == "__main__":
    main()
