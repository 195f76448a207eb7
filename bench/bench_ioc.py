"""Job and catalogue figures through the real IOC over Channel Access.

- QUEUE:ADD on an idle server until the job's first line runs (CURRENT:LINE monitor), with
  the warm spare and without it, against `python -c pass` as the baseline;
- back-to-back overhead per job for 200 trivial jobs, and for 100 jobs of 0.2 s;
- deferred PAUSE on a line loop until STATE is PAUSED, RESUME until RUNNING, soft ABORT
  until idle (against a put-to-monitor round trip on QUEUE:HOLD as the baseline);
- a command file change until a COMMANDS:REVISION monitor sees the new revision;
- QUEUE:FINISH predicted for a demo queue against its real finish, before and after the
  server has learned the jobs' durations;
- soft ABORT until the job's `finally:` block starts (its first statement writes the
  time), for a job blocked in `time.sleep`, in genie_python's wait loop
  (`WaitForController.start_waiting`, which sleeps 0.1 s between `check_break` calls) and in
  a loop of busy C calls (`sum(range(n))`, one call measured alone first: the abort message
  is not even read until the call returns, since it holds the GIL).

Usage: python bench/bench_ioc.py [--quick] [--abort-only]
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import epics
from common import ms, python_startup, start_ioc

from scriptserver_ioc.client.client import ScriptServerClient, encode_text

QUICK = "--quick" in sys.argv
ABORT_ONLY = "--abort-only" in sys.argv
REPEAT = 5 if QUICK else 15


class Watch:
    """A monitor that records (time, value) and lets the caller wait for a condition."""

    def __init__(self, name: str) -> None:
        self.values: list[tuple[float, float]] = []
        self.changed = threading.Condition()
        self.pv = epics.PV(name, callback=self._on, auto_monitor=True)
        self.pv.wait_for_connection(5)

    def _on(self, value=None, **_) -> None:
        with self.changed:
            self.values.append((time.perf_counter(), value))
            self.changed.notify_all()

    def wait(self, predicate, since: float, timeout: float = 30.0) -> float:
        """Time of the first value after `since` for which predicate(value) holds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for t, value in self.values:
                    if t >= since and predicate(value):
                        return t
                if not self.changed.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(self.pv.pvname)


def first_line_latency(prefix: str) -> list[float]:
    client = ScriptServerClient(prefix)
    line = Watch(prefix + "CURRENT:LINE")
    current = Watch(prefix + "CURRENT:ID")
    add = client.pv("QUEUE:ADD")
    out = []
    script = '{"script": "import time\\ntime.sleep(0.05)\\n"}'
    for _ in range(REPEAT):
        client.wait_for(lambda: client.get("CURRENT:ID") == 0 and client.get("STATE") == 0)
        time.sleep(0.3)  # let the runner warm its next spare, as on an idle server
        t0 = time.perf_counter()
        add.put(encode_text(script), wait=True)
        out.append(line.wait(lambda v: v >= 1, t0) - t0)
        current.wait(lambda v: v == 0, t0)
    return out


def back_to_back(prefix: str, count: int, seconds: float = 0.0) -> float:
    """Wall time per job of `count` jobs that each sleep `seconds`, queued back to back."""
    client = ScriptServerClient(prefix, timeout=30)
    client.put("QUEUE:HOLD", 1)
    script = f"import time\ntime.sleep({seconds})\n" if seconds else "pass"
    ids = client.add([{"script": script} for _ in range(count)])
    last = Watch(prefix + "LAST:ID")
    t0 = time.perf_counter()
    client.put("QUEUE:HOLD", 0)
    end = last.wait(lambda v: v == ids[-1], t0, timeout=600)
    return (end - t0) / count


def pause_resume_abort(prefix: str) -> tuple[list[float], list[float], list[float], list[float]]:
    client = ScriptServerClient(prefix)
    state = Watch(prefix + "STATE")
    hold = Watch(prefix + "QUEUE:HOLD")
    pauses, resumes, aborts, baseline = [], [], [], []
    loop = '{"script": "x = 0\\nwhile True:\\n    x += 1\\n    y = x * 2\\n"}'
    for _ in range(REPEAT):
        client.put("QUEUE:HOLD", 0)
        client.put("QUEUE:ADD", loop)
        client.wait_for(lambda: client.get("STATE") == 1 and client.get("CURRENT:LINE") > 1)
        t0 = time.perf_counter()
        client.pv("PAUSE").put(1, wait=False)
        pauses.append(state.wait(lambda v: v == 3, t0) - t0)
        t0 = time.perf_counter()
        client.pv("RESUME").put(1, wait=False)
        resumes.append(state.wait(lambda v: v == 1, t0) - t0)
        t0 = time.perf_counter()
        client.pv("ABORT").put(1, wait=False)
        aborts.append(state.wait(lambda v: v == 0, t0) - t0)
        value = client.get("QUEUE:HOLD")
        t0 = time.perf_counter()
        client.pv("QUEUE:HOLD").put(1 - value, wait=False)
        baseline.append(hold.wait(lambda v, w=1 - value: v == w, t0) - t0)
    return pauses, resumes, aborts, baseline


def catalogue_change(prefix: str, directory: Path) -> list[float]:
    client = ScriptServerClient(prefix)
    revision = Watch(prefix + "COMMANDS:REVISION")
    out = []
    for i in range(REPEAT):
        before = client.get("COMMANDS:REVISION")
        t0 = time.perf_counter()
        (directory / "extra.py").write_text(f"def extra_{i}(x: int):\n    '''Extra {i}.'''\n")
        out.append(revision.wait(lambda v, b=before: v > b, t0) - t0)
    return out


GENIE_WAIT = (
    "from genie_python.genie_waitfor import WaitForController\n"
    "class Log:\n"
    "    def log_info_msg(self, *args): pass\n"
    "    log_error_msg = log_info_msg\n"
    "class Api:\n"
    "    logger = Log()\n"
)
BUSY_C = "sum(range(20_000_000))"
BLOCKING = {
    "time.sleep(600)": ("", "time.sleep(600)"),
    "genie wait (waitfor_time)": (
        GENIE_WAIT,
        "WaitForController(Api()).start_waiting(seconds=600, quiet=True)",
    ),
    f"busy C calls (while True: {BUSY_C})": ("", f"while True: {BUSY_C}"),
}


def abort_to_finally(prefix: str, head: str, call: str, marks: Path) -> list[float]:
    """Seconds from the ABORT put to the first statement of the job's `finally:` block."""
    client = ScriptServerClient(prefix)
    client.put("QUEUE:ON_INVALID", 1)  # a pre-flight dry run of a busy call may time out
    out = []
    for i in range(REPEAT):
        mark = marks / f"finally-{time.monotonic_ns()}-{i}"
        script = (
            f"import time\n{head}try:\n    {call}\n"
            f"finally:\n    open({str(mark)!r}, 'w').write(repr(time.time()))\n"
        )
        client.put("QUEUE:HOLD", 0)  # each abort holds the queue
        (job_id,) = client.add({"script": script})
        client.wait_for(lambda n=job_id: client.get("CURRENT:ID") == n, 30)
        time.sleep(0.5)  # into the blocking call (a busy C call holds the GIL: no line)
        t0 = time.time()
        client.pv("ABORT").put(1, wait=False)
        client.wait_for(mark.exists, timeout=30, interval=0.002)
        client.wait_for(lambda n=job_id: client.get("LAST:ID") == n, timeout=30)
        out.append(float(mark.read_text()) - t0)
    return out


def abort_latencies(prefix: str, baseline_ms: float) -> None:
    """Print the medians of ABORT -> `finally:` for each kind of blocking call."""
    t0 = time.perf_counter()
    eval(BUSY_C)
    busy = time.perf_counter() - t0
    print(f"\none {BUSY_C} alone takes {busy * 1000:.0f} ms here")
    marks = Path(tempfile.mkdtemp(prefix="bench-finally-"))
    for label, (head, call) in BLOCKING.items():
        samples = abort_to_finally(prefix, head, call, marks)
        print(
            f"soft ABORT -> finally: started, blocked in {label}: median {ms(samples):.1f} ms, "
            f"max {max(samples) * 1000:.1f} ms ({ms(samples) / baseline_ms:.1f}x put->monitor)"
        )


DEMO_QUEUE = [
    {"call": "set_temperature(temperature=250.0)"},
    {"call": "count(seconds=1.5)"},
    {"call": "set_ei(energy=30.0)"},
    {"call": "count(seconds=1.0, title='background')"},
    {"script": "import time\ntime.sleep(0.8)\n"},
]


def finish_error(prefix: str) -> float:
    """Seconds between the real end of the demo queue and the QUEUE:FINISH prediction."""
    client = ScriptServerClient(prefix, timeout=30)
    client.put("QUEUE:HOLD", 1)
    ids = client.add(DEMO_QUEUE)
    predicted = time.time() + client.get("QUEUE:ETA")
    finish = client.get("QUEUE:FINISH")
    last = Watch(prefix + "LAST:ID")
    t0 = time.perf_counter()
    client.put("QUEUE:HOLD", 0)
    last.wait(lambda v: v == ids[-1], t0, timeout=120)
    error = time.time() - predicted
    real = dt.datetime.now().strftime("%H:%M:%S")
    print(f"  QUEUE:FINISH said {finish}, finished at {real}: error {error:+.2f} s")
    return error


def put_monitor_baseline(prefix: str) -> list[float]:
    """Put -> monitor round trips on QUEUE:HOLD."""
    client = ScriptServerClient(prefix)
    hold = Watch(prefix + "QUEUE:HOLD")
    out = []
    for _ in range(REPEAT):
        value = client.get("QUEUE:HOLD")
        t0 = time.perf_counter()
        client.pv("QUEUE:HOLD").put(1 - value, wait=False)
        out.append(hold.wait(lambda v, w=1 - value: v == w, t0) - t0)
    return out


def main() -> None:
    if ABORT_ONLY:
        ioc, prefix = start_ioc()
        abort_latencies(prefix, ms(put_monitor_baseline(prefix)))
        ioc.terminate()
        return
    baseline = python_startup(REPEAT)
    print(f"baseline: python -c pass {ms(baseline):.1f} ms (median of {len(baseline)})\n")
    warm, warm_prefix = start_ioc()
    cold, cold_prefix = start_ioc("--no-warm-spare")
    for label, prefix in (("warm spare", warm_prefix), ("no spare", cold_prefix)):
        samples = first_line_latency(prefix)
        print(
            f"QUEUE:ADD -> first line, {label}: {ms(samples):.1f} ms "
            f"({ms(samples) / ms(baseline):.2f}x python -c pass)"
        )
    count = 50 if QUICK else 200
    for label, prefix in (("warm spare", warm_prefix), ("no spare", cold_prefix)):
        per_job = back_to_back(prefix, count)
        print(
            f"back-to-back, {count} trivial jobs, {label}: {per_job * 1000:.1f} ms per job "
            f"({per_job * 1000 / ms(baseline):.2f}x python -c pass; bluesky-queueserver ~500)"
        )
    per_job = back_to_back(warm_prefix, count // 2, seconds=0.2)
    overhead = (per_job - 0.2) * 1000
    print(
        f"back-to-back, {count // 2} jobs of 0.2 s, warm spare: overhead {overhead:.1f} ms "
        f"per job ({overhead / ms(baseline):.2f}x python -c pass)"
    )
    cold.terminate()

    pauses, resumes, aborts, put_monitor = pause_resume_abort(warm_prefix)
    b = ms(put_monitor)
    print(f"\nbaseline: put -> monitor on QUEUE:HOLD {b:.2f} ms")
    for label, samples in (
        ("deferred PAUSE -> PAUSED", pauses),
        ("RESUME -> RUNNING", resumes),
        ("soft ABORT -> IDLE", aborts),
    ):
        print(f"{label}: {ms(samples):.1f} ms ({ms(samples) / b:.1f}x baseline)")
    abort_latencies(warm_prefix, b)
    warm.terminate()

    commands = Path(tempfile.mkdtemp(prefix="bench-commands-"))
    (commands / "base.py").write_text("def base(x: int):\n    '''Base.'''\n")
    watched, watched_prefix = start_ioc(commands=commands)
    samples = catalogue_change(watched_prefix, commands)
    print(
        f"\ncommand file change -> COMMANDS:REVISION monitor: median {ms(samples):.0f} ms, "
        f"max {max(samples) * 1000:.0f} ms ({ms(samples) / b:.0f}x put->monitor)"
    )
    watched.terminate()

    demo, demo_prefix = start_ioc()
    print("\nQUEUE:FINISH against the real finish of a demo queue (5 jobs, ~5 s):")
    first = finish_error(demo_prefix)
    learned = statistics.median(finish_error(demo_prefix) for _ in range(1 if QUICK else 2))
    print(f"error: {first:+.2f} s from declared estimates, {learned:+.2f} s once learned")
    demo.terminate()


if __name__ == "__main__":
    main()
