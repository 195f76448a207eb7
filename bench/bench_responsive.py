"""Responsiveness while another client adds jobs whose `validate_` takes 1 s.

One client (a separate process) adds `slow_check()` jobs back to back with put-with-callback;
each add runs the command's `validate_slow_check`, which sleeps 1 s in the companion
checker. Meanwhile this process measures, every ~10 ms, (a) a CA get of `STATE` (one round
trip, like `caget STATE`), (b) a `QUEUE:REMOVE` write until a `QUEUE:COUNT` monitor shows
it, and (c) a CA get of a PV of a bare pcaspy server (no script server code: what this
machine, pcas and pyepics give). Prints p50 and p99 of each with ratios to the baseline:
the same reads, for as long, on the same idle server before the slow adds start.

The IOC pre-flights (dry-runs) the 4,000 queued jobs in the background meanwhile, as a
server does; `--no-preflight` starts it with `--preflight-workers 0` to tell that load
apart. `--switch-interval S` runs the IOC with `sys.setswitchinterval(S)` (Python's
default is 0.005 s), to see whether another thread holding the GIL delays the server
thread.

Usage: python bench/bench_responsive.py [--quick] [--no-preflight] [--switch-interval S]
(also run by bench_queue.py)
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import epics
from common import PORTS, ROOT, percentiles, start_ioc

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


BARE_SERVER = """
import pcaspy


class Bare(pcaspy.Driver):
    pass


server = pcaspy.SimpleServer()
server.createPV("BARE:", {"STATE": {"type": "enum", "enums": ["IDLE", "RUNNING"]}})
driver = Bare()
print("ready", flush=True)
while True:
    server.process(0.05)
"""


def start_bare_server() -> tuple[subprocess.Popen, str]:
    """A pcaspy server with one PV and the script server's loop, on the last bench port."""
    env = dict(
        os.environ, EPICS_CAS_SERVER_PORT=str(PORTS[-1]), EPICS_CAS_INTF_ADDR_LIST="127.0.0.1"
    )
    bare = subprocess.Popen(
        [sys.executable, "-c", BARE_SERVER], stdout=subprocess.PIPE, text=True, env=env
    )
    atexit.register(bare.kill)  # also when the benchmark fails half-way
    assert bare.stdout.readline().strip() == "ready"
    return bare, "BARE:STATE"


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


def sample(client, watch: CountWatch, ids: list[int], bare_pv, keep_going) -> tuple:
    """STATE get, REMOVE->monitor and bare get latencies until `keep_going()` is False."""
    state_pv, remove_pv = client.pv("STATE"), client.pv("QUEUE:REMOVE")
    gets, monitors, bare, coalesced = [], [], [], []
    while keep_going() and ids:
        t0 = time.perf_counter()
        state_pv.get(use_monitor=False, timeout=30)
        gets.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bare_pv.get(use_monitor=False, timeout=30)
        bare.append(time.perf_counter() - t0)
        with watch.cond:
            before, seq = watch.value, watch.seq
        t0 = time.perf_counter()
        removed = ids.pop()
        remove_pv.put(encode_text(str(removed)), wait=False)
        # a concurrent slow add may land first (count + 1): wait for our removal
        if watch.wait_update_at_most(seq, before, 1):
            monitors.append(time.perf_counter() - t0)
        elif removed not in {job["id"] for job in client.queue()}:
            # removed, but a slow add landed in the same moment: the count did not
            # change, so no monitor update was due; not a sample. No update is lost:
            # the monitor shows what the server holds
            actual = client.get("QUEUE:COUNT")
            with watch.cond:
                if not watch.cond.wait_for(lambda a=actual: watch.value == a, 5):
                    raise RuntimeError(f"QUEUE:COUNT monitor {watch.value}, server {actual}")
            coalesced.append(t0)
        elif watch.wait_update_at_most(seq, before, 29):
            monitors.append(time.perf_counter() - t0)
        else:
            raise RuntimeError("QUEUE:COUNT did not follow a removal within 30 s")
        time.sleep(0.01)
    return gets, monitors, bare, coalesced


WITH_SWITCH_INTERVAL = (
    "import runpy, sys; sys.setswitchinterval({}); sys.argv[0] = 'scriptserver_ioc'; "
    "runpy.run_module('scriptserver_ioc', run_name='__main__')"
)


def responsiveness(
    quick: bool = False, switch_interval: float | None = None, preflight: bool = True
) -> None:
    """Start an IOC with the slow command, measure idle and under slow adds, print."""
    commands = Path(tempfile.mkdtemp(prefix="bench-commands-"))
    shutil.copytree(ROOT / "commands", commands, dirs_exist_ok=True)
    (commands / "slow.py").write_text(SLOW_COMMAND)
    wrapper = ("-c", WITH_SWITCH_INTERVAL.format(switch_interval)) if switch_interval else ()
    args = () if preflight else ("--preflight-workers", "0")
    ioc, prefix = start_ioc(*args, commands=commands, python=wrapper)
    print(
        f"(IOC {'with' if preflight else 'without'} background pre-flight"
        + (f", sys.setswitchinterval({switch_interval})" if switch_interval else "")
        + ")"
    )
    client = ScriptServerClient(prefix, timeout=30)
    client.put("QUEUE:HOLD", 1)
    adds = 5 if quick else 12
    for _ in range(2):
        client.add([{"call": "get_ei()"} for _ in range(2000)])
    ids = [job["id"] for job in client.queue()]
    watch = CountWatch(prefix)
    bare_server, bare_name = start_bare_server()
    bare_pv = epics.PV(bare_name)
    bare_pv.wait_for_connection(10)

    idle_until = time.monotonic() + adds  # as long as the slow adds will take
    idle = sample(client, watch, ids, bare_pv, lambda: time.monotonic() < idle_until)

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
    busy_samples = sample(client, watch, ids, bare_pv, lambda: not done.is_set())
    busy = time.monotonic() - t0
    other.wait(30)
    slow_jobs = [job for job in client.queue() if job["command"] == "slow_check"]
    print(
        f"while another client added {adds} jobs whose validate_ takes 1 s "
        f"({busy:.1f} s, {len(slow_jobs)} queued; {len(busy_samples[0])} samples each; "
        f"baseline: the same reads for {adds} s before, {len(idle[0])} samples each):"
    )
    whats = (
        "CA get of STATE",
        "QUEUE:REMOVE -> QUEUE:COUNT monitor",
        "CA get of a bare pcaspy server's PV",
    )
    print(f"  ({len(busy_samples[3])} removals coincided with a slow add: no count change)")
    for what, idle_samples, samples in zip(whats, idle, busy_samples):
        p50, p99 = percentiles(samples)
        i50, i99 = percentiles(idle_samples)
        print(
            f"  {what}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(samples) * 1000:.0f} ms; "
            f"baseline p50 {i50:.2f} ms, p99 {i99:.2f} ms; ratios p50 {p50 / i50:.2f}x, "
            f"p99 {p99 / i99:.2f}x"
        )
    print(json.dumps({"adds": adds, "slow_jobs_queued": len(slow_jobs)}))
    ioc.terminate()
    ioc.wait(10)
    bare_server.kill()
    bare_server.wait(10)


if __name__ == "__main__":
    argv = sys.argv[1:]
    flag = "--switch-interval"
    interval = float(argv[argv.index(flag) + 1]) if flag in argv else None
    responsiveness("--quick" in argv, interval, "--no-preflight" not in argv)
