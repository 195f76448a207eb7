"""Benchmark of dry runs of bluesky plans (python bench/bench_plan_dry_run.py [runs]).

A 50-point scan of an ophyd-async simulated motor that moves (velocity 1 mm/s, 1 mm a
point) with a 0.4 s wait at each point: about 94 s on an instrument. Its dry run against
a baseline measured in the same run: the same script without the scan (its imports, the
RunEngine and the device, which a dry run pays as the real run does). Prints the medians
of the dry runs' real seconds, the scan's own share (the difference), the ratio of the
scan's virtual time to that share, and the estimate. Needs the ``[bluesky]`` extra.
"""

from __future__ import annotations

import statistics
import sys

from scriptserver_ioc.validate.dryrun import run_dry

SETUP = """\
import bluesky.plan_stubs as bps
import bluesky.plans as bp
from bluesky import RunEngine
from ophyd_async.core import init_devices
from ophyd_async.sim import SimMotor

RE = RunEngine(call_returns_result=True)
with init_devices():
    motor = SimMotor("motor", instant=False)


def step(detectors, step, pos_cache):
    yield from bps.one_nd_step(detectors, step, pos_cache)
    yield from bps.sleep(0.4)
"""
SCAN = SETUP + "\nRE(bp.scan([motor], motor, 0, 49, 50, per_step=step))\n"


def dry(source: str) -> tuple[float, float]:
    """(real seconds, estimate) of one dry run of ``source``."""
    result = run_dry(source, time_limit=120)
    if not result["ok"]:
        raise SystemExit(f"the dry run failed: {result['error']}")
    return result["real_seconds"], result["estimate"]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    baseline, scan = [], []
    for _ in range(runs):  # interleaved: both see the same machine load
        baseline.append(dry(SETUP))
        scan.append(dry(SCAN))
    base, total = (statistics.median(s for s, _ in runs_) for runs_ in (baseline, scan))
    estimates = [e for _, e in scan]
    virtual = statistics.median(estimates) - statistics.median(e for _, e in baseline)
    print(f"runs: {runs} of each, interleaved")
    print(f"baseline (imports, RunEngine, device; no scan): median {base:.3f} s")
    print(f"with the 50-point scan:                        median {total:.3f} s")
    print(f"the scan's own share: {total - base:.3f} s for {virtual:.1f} s of virtual time")
    print(f"ratio virtual / real for the scan: {virtual / max(total - base, 1e-3):.0f}x")
    print(f"estimate of the whole job: median {statistics.median(estimates):.1f} s")


if __name__ == "__main__":
    main()
