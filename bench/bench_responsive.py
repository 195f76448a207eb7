"""Responsiveness while another client adds jobs whose `validate_` takes 1 s.

One client (a separate process) adds `slow_check()` jobs back to back with put-with-callback;
each add runs the command's `validate_slow_check`, which sleeps 1 s in the companion
checker. Meanwhile this process measures, every ~10 ms, (a) a CA get of `STATE` (one round
trip, like `caget STATE`) and (b) a `QUEUE:REMOVE` write until a `QUEUE:COUNT` monitor shows
it. Prints p50 and p99 of both, and the same two figures on an idle server as the baseline.

Usage: python bench/bench_responsive.py [--quick]   (also run by bench_queue.py)
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import epics
from common import ROOT, start_ioc

from scriptserver_ioc.client.client import ScriptServerClient, encode_text

SLOW_COMMAND = '''
def slow_check(n=0):
    """A command whose check takes a second."""


def validate_slow_check(n=0):
    import time

    time.sleep(1.0)
'''

SLOW_CLIENT = """
import sys, time
sys.path.insert(0, sys.argv[1])
import epics
from scriptserver_ioc.client.client import encode_text
pv = epics.PV(sys.argv[2] + "QUEUE:ADD")
pv.wait_for_connection(10)
print("ready", flush=True)
for i in range(int(sys.argv[3])):
    pv.put(encode_text(f"slow_check({i})"), wait=True, timeout=120)
print("done", flush=True)
"""


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples) * 1000, cuts[98] * 1000


class CountWatch:
    """A monitor of QUEUE:COUNT that can wait for the count to drop to a value."""

    def __init__(self, prefix: str) -> None:
        self.cond = threading.Condition()
        self.value: int | None = None
        self.seq = 0
        self.pv = epics.PV(prefix + "QUEUE:COUNT", callback=self._changed, auto_monitor=True)
        self.pv.wait_for_connection(5)
        with self.cond:
            self.cond.wait_for(lambda: self.value is not None, 5)

    def _changed(self, value=None, **_) -> None:
        with self.cond:
            self.value = int(value)
            self.seq += 1
            self.cond.notify_all()

    def wait_update_at_most(self, seq: int, limit: int, timeout: float) -> bool:
        """Wait for an update after update `seq` with a count of at most `limit`."""
        with self.cond:
            return self.cond.wait_for(lambda: self.seq > seq and self.value <= limit, timeout)


def sample(client: ScriptServerClient, watch: CountWatch, ids: list[int], keep_going) -> tuple:
    """STATE get and REMOVE->monitor latencies until `keep_going()` is False."""
    state_pv, remove_pv = client.pv("STATE"), client.pv("QUEUE:REMOVE")
    gets, monitors = [], []
    while keep_going() and ids:
        t0 = time.perf_counter()
        state_pv.get(use_monitor=False, timeout=30)
        gets.append(time.perf_counter() - t0)
        with watch.cond:
            before, seq = watch.value, watch.seq
        t0 = time.perf_counter()
        remove_pv.put(encode_text(str(ids.pop())), wait=False)
        # a concurrent slow add may land first (count + 1): wait for our removal
        if not watch.wait_update_at_most(seq, before, 30):
            raise RuntimeError("QUEUE:COUNT did not follow a removal within 30 s")
        monitors.append(time.perf_counter() - t0)
        time.sleep(0.01)
    return gets, monitors


def responsiveness(quick: bool = False) -> None:
    """Start an IOC with the slow command, measure idle and under slow adds, print."""
    commands = Path(tempfile.mkdtemp(prefix="bench-commands-"))
    shutil.copytree(ROOT / "commands", commands, dirs_exist_ok=True)
    (commands / "slow.py").write_text(SLOW_COMMAND)
    ioc, prefix = start_ioc(commands=commands)
    client = ScriptServerClient(prefix, timeout=30)
    client.put("QUEUE:HOLD", 1)
    adds = 5 if quick else 12
    client.add([{"call": "get_ei()"} for _ in range(2000)])
    ids = [job["id"] for job in client.queue()]
    watch = CountWatch(prefix)

    idle_until = time.monotonic() + (1.5 if quick else 3.0)
    idle_gets, idle_monitors = sample(client, watch, ids, lambda: time.monotonic() < idle_until)

    other = subprocess.Popen(
        [sys.executable, "-c", SLOW_CLIENT, str(ROOT), prefix, str(adds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdout.readline().strip() == "ready"
    done = threading.Event()
    threading.Thread(target=lambda: (other.stdout.readline(), done.set()), daemon=True).start()
    time.sleep(0.2)  # the first slow add is in its check
    t0 = time.monotonic()
    gets, monitors = sample(client, watch, ids, lambda: not done.is_set())
    busy = time.monotonic() - t0
    other.wait(30)
    slow_jobs = [job for job in client.queue() if job["command"] == "slow_check"]
    print(
        f"while another client added {adds} jobs whose validate_ takes 1 s "
        f"({busy:.1f} s, {len(slow_jobs)} queued; {len(gets)} samples each):"
    )
    for what, idle, busy_samples in (
        ("CA get of STATE", idle_gets, gets),
        ("QUEUE:REMOVE -> QUEUE:COUNT monitor", idle_monitors, monitors),
    ):
        p50, p99 = percentiles(busy_samples)
        i50, i99 = percentiles(idle)
        worst = max(busy_samples) * 1000
        print(
            f"  {what}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.0f} ms "
            f"(idle server: p50 {i50:.2f} ms, p99 {i99:.2f} ms)"
        )
    print(json.dumps({"adds": adds, "slow_jobs_queued": len(slow_jobs)}))
    ioc.terminate()
    ioc.wait(10)


if __name__ == "__main__":
    responsiveness("--quick" in sys.argv)
