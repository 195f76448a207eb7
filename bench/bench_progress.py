"""How closely `CURRENT:PROGRESS` follows the time a job has really run (real IOC, real jobs).

Run: ``python bench/bench_progress.py [--runs 3]`` (about half a minute a run).

For the three job shapes of `system_tests/test_progress_ca.py` (a script of commands that
report their own progress, a one-line loop, a command job), samples `CURRENT:PROGRESS` and
`CURRENT:ELAPSED` every ~50 ms while the job runs and compares each sample with the
job's elapsed time over its real duration (``100 * elapsed / actual``, known once it has
ended). Prints, per shape, the median and the largest distance in points over all runs,
and the job's start-up (elapsed at its first reported line), the usual cause of a lag on
a loaded machine: progress follows the job's position, the clock runs from its start.

The tests assert what progress means (monotonic, the whole job, moving through a loop);
this measures how close to the clock it stays, which depends on the machine's load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from common import start_ioc

from scriptserver_ioc.client.client import ScriptServerClient

SHAPES = {
    "multi-command": {
        "script": (
            'scan("sample_height", 0, 1, steps=6, count_seconds=0.1)\n'
            'scan("sample_height", 1, 0, steps=4, count_seconds=0.2)\n'
            'scan("theta", 0, 1, steps=8, count_seconds=0.05)\n'
        )
    },
    "one-line loop": {
        "script": "import scriptserver\nfor i in range(10):\n    scriptserver.sleep(0.25)\n"
    },
    "command": {"call": 'scan("theta", 0, 1, steps=10, count_seconds=0.15)'},
}


def wait_for(condition, timeout: float = 60.0):
    """Poll `condition()` until truthy (the benchmark's own failure bound)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError("the IOC did not get there")
        time.sleep(0.02)
    return value


def measure(client: ScriptServerClient, spec: dict) -> tuple[list[float], float]:
    """Distances |progress - 100 * elapsed / actual| of one run, and its start-up time."""
    if "script" in spec:
        client.put("VALIDATE", {"script": spec["script"], "dry_run": True})
        wait_for(lambda: (client.get_json("VALIDATE:RESULT").get("dry_run") or {}).get("ok"))
    (job_id,) = client.add(spec)
    wait_for(lambda: client.get("CURRENT:ID") == job_id)
    samples, start_up = [], None
    while client.get("CURRENT:ID") == job_id:
        progress, elapsed = client.get("CURRENT:PROGRESS"), client.get("CURRENT:ELAPSED")
        if start_up is None and client.get("CURRENT:LINE") > 0:
            start_up = elapsed
        samples.append((elapsed, progress))
        time.sleep(0.05)
    wait_for(lambda: client.get("LAST:ID") == job_id)
    actual = client.get_json("HISTORY")[0]["elapsed"]
    distances = [abs(p - min(100.0, 100.0 * e / actual)) for e, p in samples if p >= 0]
    return distances, start_up or 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each shape")
    options = parser.parse_args()
    ioc, prefix = start_ioc()
    client = ScriptServerClient(prefix)
    client.put("QUEUE:HOLD", 0)
    print(f"CURRENT:PROGRESS against 100 * elapsed / actual ({options.runs} runs a shape)")
    print(f"  {'shape':15} {'median':>8} {'max':>8} {'start-up':>9}")
    for name, spec in SHAPES.items():
        distances, start_ups = [], []
        for _ in range(options.runs):
            run, start_up = measure(client, spec)
            distances += run
            start_ups.append(start_up)
        print(
            f"  {name:15} {statistics.median(distances):6.1f} pt {max(distances):6.1f} pt "
            f"{statistics.median(start_ups):7.2f} s"
        )
    ioc.terminate()
    ioc.wait(10)


if __name__ == "__main__":
    sys.exit(main())
