"""Benchmark of pre-flight (run by bench_validate.py, or alone: python bench/bench_preflight.py).

- throughput: corpus jobs (tests/preflight_corpus) pre-flighted one after another and by two
  workers at once, in jobs per second, against the start of a bare ``python -c pass``;
- the running job's deferred PAUSE -> STATE PAUSED latency over Channel Access (p50, p99),
  with an empty queue (baseline) and with 100 queued jobs pre-flighting in the background.
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, python_startup, start_ioc  # noqa: E402

from scriptserver_ioc.catalogue import Catalogue  # noqa: E402
from scriptserver_ioc.validate.companions import CompanionRunner  # noqa: E402
from scriptserver_ioc.validate.preflight import preflight  # noqa: E402
from scriptserver_ioc.validate.validator import Validator  # noqa: E402

CORPUS = ROOT / "tests" / "preflight_corpus"
LOOP = "import time\nn = 0\nwhile True:\n    n += 1\n    time.sleep(0.002)\n"
BUSY = "import time\nt = 0\nfor i in range({n}):\n    t += sum(range(20000))\n    time.sleep(60)\n"


def throughput() -> None:
    catalogue = Catalogue([ROOT / "commands"])
    companions = CompanionRunner(sys.executable, [str(ROOT / "commands")])
    validator = Validator(catalogue, companions)
    jobs = []
    for path in sorted(CORPUS.glob("*/*.txt")):
        job = {"kind": "script", "script": path.read_text()}
        if validator.check(job).ok:  # the ones a pre-flight dry-runs
            jobs.append(job)

    def one(job):
        return preflight(validator, job, job["script"], "<script>", catalogue.revision)

    start = statistics.median(python_startup(5))
    t0 = time.perf_counter()
    for job in jobs:
        one(job)
    serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, jobs))
    parallel = time.perf_counter() - t0
    companions.close()
    print(f"pre-flight throughput on {len(jobs)} corpus jobs that reach a dry run:")
    print(f"  python -c pass (baseline)          {start * 1000:8.1f} ms")
    print(
        f"  1 worker   {len(jobs) / serial:6.2f} jobs/s  {serial / len(jobs) * 1000:8.1f} ms/job"
        f"  ({serial / len(jobs) / start:.1f} x python start)"
    )
    print(
        f"  2 workers  {len(jobs) / parallel:6.2f} jobs/s  "
        f"{parallel / len(jobs) * 1000:8.1f} ms/job"
    )


def pause_latency(client, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        client.put("PAUSE", 1)
        client.wait_for(lambda: client.get("STATE") == 3, timeout=10, interval=0.001)
        samples.append(time.perf_counter() - t0)
        client.put("RESUME", 1)
        client.wait_for(lambda: client.get("STATE") == 1, timeout=10, interval=0.001)
    return samples


def p99(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.99) - 1)] * 1000


def pause_while_preflighting(rounds: int = 60) -> None:
    from scriptserver_ioc.client.client import ScriptServerClient

    _, prefix = start_ioc()
    client = ScriptServerClient(prefix)
    (running,) = client.add({"script": LOOP})
    client.wait_for(lambda: client.get("CURRENT:ID") == running, timeout=30)
    client.put("QUEUE:HOLD", 1)
    base = pause_latency(client, rounds)
    client.add([{"script": BUSY.format(n=20 + i)} for i in range(100)])  # 100 distinct jobs
    busy = pause_latency(client, rounds)
    left = sum(1 for job in client.queue() if not job.get("preflight"))
    print(f"deferred PAUSE -> PAUSED over CA, {rounds} rounds:")
    print(
        f"  no queue (baseline)           p50 {statistics.median(base) * 1000:7.1f} ms"
        f"   p99 {p99(base):7.1f} ms"
    )
    print(
        f"  100 jobs pre-flighting        p50 {statistics.median(busy) * 1000:7.1f} ms"
        f"   p99 {p99(busy):7.1f} ms   ({p99(busy) / p99(base):.2f} x; {left} still unchecked)"
    )
    client.put("ABORT", 2)


NIGHT = [
    {"script": "begin_run(title='T=10 K')\nwaitfor_uamps(12)\nend_run()\n"},
    {"call": "count(seconds=6, title='background')"},
    {"script": "for t in (20, 40):\n    set_temperature(t)\n    count(seconds=3)\n"},
    {"script": "set_ei(energy=25)\nbegin_run(title='Ei 25')\nwaitfor_uamps(10)\nend_run()\n"},
    {"script": "do_sans(position='2', sample='AgBeh', sans_seconds='4')\n"},
]
"""A night's queue scaled down: runs that wait on (demo) beam, counts, temperatures."""


def night_queue() -> None:
    """QUEUE:ETA when released (QUEUE:FINISH = now + ETA) against the real end."""
    from scriptserver_ioc.client.client import ScriptServerClient

    _, prefix = start_ioc()
    client = ScriptServerClient(prefix, timeout=10)
    client.put("QUEUE:HOLD", 1)
    ids = client.add(NIGHT)
    client.wait_for(lambda: all(j.get("preflight") for j in client.queue()), timeout=120)
    eta = client.get("QUEUE:ETA")
    finish_text = None
    t0 = time.time()
    client.put("QUEUE:HOLD", 0)
    finish_text = client.get("QUEUE:FINISH")
    client.wait_for(lambda: client.get("LAST:ID") == ids[-1], timeout=300, interval=0.05)
    real = time.time() - t0
    states = {j["id"]: j["state"] for j in client.get_json("HISTORY")}
    print(f"night queue of {len(ids)} jobs (demo beam), estimates from pre-flight:")
    print(f"  QUEUE:ETA at release {eta:7.1f} s (QUEUE:FINISH {finish_text})")
    print(f"  real duration        {real:7.1f} s   error {100 * (eta - real) / real:+.1f} %")
    print(f"  states: {sorted(set(states[i] for i in ids))}")
    for job in client.get_json("HISTORY")[: len(ids)][::-1]:
        print(
            f"    job {job['id']}: estimate {job['estimate']:6.2f} s ({job['estimate_source']}),"
            f" ran {job['elapsed']:6.2f} s"
        )


def main() -> None:
    throughput()
    pause_while_preflighting()
    night_queue()


if __name__ == "__main__":
    main()
