"""Benchmark: a check never delays a job (python bench/bench_preflight_wait.py [rounds]).

A job that waits for a flag file (its dry run cannot finish before its 10 s limit) is
queued held; the queue is released and the time from the `QUEUE:HOLD` = 0 write to
`CURRENT:ID` naming the job is measured:

- baseline: released after the job's pre-flight verdict is in (nothing to wait for);
- under check: released at once, while its pre-flight is under way (the queue waits at
  most `--preflight-wait`, 0.5 s by default, then starts it).

Prints the medians and their difference; before issue #18 the second was the dry run's
time limit (9.8 s measured).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import start_ioc  # noqa: E402

from scriptserver_ioc.client.client import ScriptServerClient  # noqa: E402

WAITS = "import os, time\nwhile not os.path.exists({flag!r}):\n    time.sleep(0.05)\n"


def release_latency(client: ScriptServerClient, job_id: int) -> float:
    """Seconds from the release write to CURRENT:ID == job_id (polled every 2 ms)."""
    started = time.perf_counter()
    client.put("QUEUE:HOLD", 0)
    while client.get("CURRENT:ID") != job_id:
        if time.perf_counter() - started > 60:
            raise RuntimeError(f"job {job_id} did not start within 60 s")
        time.sleep(0.002)
    return time.perf_counter() - started


def one_round(client: ScriptServerClient, wait_for_verdict: bool) -> float:
    flag = Path(tempfile.mkdtemp(prefix="bench-flag-")) / "go"
    client.put("QUEUE:HOLD", 1)
    (job_id,) = client.add([{"script": WAITS.format(flag=str(flag))}])
    if wait_for_verdict:
        client.wait_for(
            lambda: all(j.get("preflight") for j in client.queue()), timeout=120, interval=0.1
        )
    latency = release_latency(client, job_id)
    flag.write_text("go")
    client.wait_for_job(job_id, timeout=60)
    return latency


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    ioc, prefix = start_ioc()
    client = ScriptServerClient(prefix)
    try:
        baseline = [one_round(client, True) for _ in range(rounds)]
        checking = [one_round(client, False) for _ in range(rounds)]
    finally:
        ioc.terminate()
        ioc.wait(10)
    base, under = statistics.median(baseline), statistics.median(checking)
    print(f"release -> CURRENT:ID, {rounds} rounds each (median)")
    print(f"  verdict already in (baseline): {base * 1000:8.1f} ms")
    print(f"  pre-flight under way:          {under * 1000:8.1f} ms")
    print(f"  difference: {(under - base) * 1000:.1f} ms (the bound is --preflight-wait, 500 ms)")


if __name__ == "__main__":
    main()
