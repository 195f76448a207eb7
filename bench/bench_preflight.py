"""Benchmark of pre-flight (run by bench_validate.py, or alone: python bench/bench_preflight.py).

- throughput: corpus jobs (tests/preflight_corpus) pre-flighted one after another and by two
  workers at once, in jobs per second, against the start of a bare ``python -c pass``;
- the running job's deferred PAUSE -> STATE PAUSED latency over Channel Access (p50, p99),
  with an empty queue (baseline) and with 100 queued jobs pre-flighting in the background,
  one after the other and interleaved on two IOCs (same machine load for both);
- what a pre-flight costs the IOC process (CPU, core lock) against its dry-run process;
- the demo night queue of the system test: QUEUE:ETA at release against the real end.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "system_tests"))

from common import ROOT, python_startup, start_ioc  # noqa: E402

from scriptserver_ioc.catalogue import Catalogue  # noqa: E402
from scriptserver_ioc.host import JobFolders, ThreadTimers
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


def percentiles(samples: list[float]) -> str:
    return f"p50 {statistics.median(samples) * 1000:7.1f} ms   p99 {p99(samples):7.1f} ms"


def running_loop(prefix: str, jobs: int):
    """A client of the IOC at `prefix` with LOOP running and `jobs` distinct jobs queued."""
    from scriptserver_ioc.client.client import ScriptServerClient

    client = ScriptServerClient(prefix)
    (running,) = client.add({"script": LOOP})
    client.wait_for(lambda: client.get("CURRENT:ID") == running, timeout=30)
    client.put("QUEUE:HOLD", 1)
    if jobs:
        client.add([{"script": BUSY.format(n=20 + i)} for i in range(jobs)])
    return client


def unchecked(client) -> int:
    return sum(1 for job in client.queue() if not job.get("preflight"))


def pause_while_preflighting(rounds: int = 150) -> None:
    """The running job's deferred pause latency, with and without 100 jobs pre-flighting.

    Sequential: one IOC, `rounds` pauses with an empty queue, then `rounds` more once 100
    jobs are queued (the machine's load may change in between). Interleaved: two IOCs, each
    running the same job with 100 jobs queued, one with the pre-flight worker off and one
    with it on, paused in turn, so both see the same load from the rest of the machine: what
    the pre-flights cost inside the IOC, and what their processes take from the CPUs.
    """
    _, prefix = start_ioc()
    client = running_loop(prefix, 0)
    base = pause_latency(client, rounds)
    client.add([{"script": BUSY.format(n=20 + i)} for i in range(100)])  # 100 distinct jobs
    busy = pause_latency(client, rounds)
    print(f"deferred PAUSE -> PAUSED over CA, {rounds} rounds each:")
    print(f"  sequential:   no queue (baseline)        {percentiles(base)}")
    print(
        f"                100 jobs pre-flighting     {percentiles(busy)}"
        f"   ({p99(busy) / p99(base):.2f} x p99; {unchecked(client)} still unchecked)"
    )
    client.put("ABORT", 2)
    _, prefix_off = start_ioc("--preflight-workers", "0")
    _, prefix_on = start_ioc()
    off, on = running_loop(prefix_off, 100), running_loop(prefix_on, 100)
    quiet: list[float] = []
    checking: list[float] = []
    for _ in range(rounds):
        quiet += pause_latency(off, 1)
        checking += pause_latency(on, 1)
    print(f"  interleaved:  100 queued, pre-flight off {percentiles(quiet)}")
    print(
        f"                100 queued, pre-flighting  {percentiles(checking)}"
        f"   ({p99(checking) / p99(quiet):.2f} x p99; {100 - unchecked(on)} checked meanwhile)"
    )
    off.put("ABORT", 2)
    on.put("ABORT", 2)


class _NoRunner:
    """Stands in for the job runner: the in-process core starts nothing."""

    def start(self, launch: dict) -> None:
        pass

    def close(self) -> None:
        pass


def ioc_side_cost(jobs: int = 30) -> None:
    """What a pre-flight costs the IOC process, against what its dry-run process costs.

    An in-process core (no Channel Access) with `jobs` queued and one pre-flight worker:
    CPU of this process per pre-flight (the worker thread starting the process, reading its
    pipe, parsing the result, keeping the verdict), the time of the core's calls that hand a
    job out and keep its verdict (each under the core's lock), and CPU of the dry-run
    processes (children).
    """
    import json

    from scriptserver_ioc.core.server import ScriptServer
    from scriptserver_ioc.ioc.writes import control
    from scriptserver_ioc.store.sqlite import Store
    from scriptserver_ioc.validate.preflight import PreflightWorker

    data = Path(tempfile.mkdtemp(prefix="bench-"))
    store = Store(data / "db.sqlite")
    catalogue = Catalogue([ROOT / "commands"])
    validator = Validator(catalogue, history=store)
    core = ScriptServer(
        store,
        catalogue,
        validator,
        files=JobFolders(None),
        timers=ThreadTimers(),
        logs_dir=data,
    )
    control(core, "QUEUE:HOLD", 1)
    core.attach_runner(_NoRunner())
    held: dict[str, list[float]] = {"next_preflight": [], "apply_preflight": []}

    def timed(name, method):
        def call(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                held[name].append(time.perf_counter() - t0)

        return call

    core.next_preflight = timed("next_preflight", core.next_preflight)
    core.apply_preflight = timed("apply_preflight", core.apply_preflight)
    control(core, "QUEUE:ADD", json.dumps([{"script": BUSY.format(n=20 + i)} for i in range(jobs)]))
    before = os.times()
    worker = PreflightWorker(core, validator)
    worker.start()
    deadline = time.monotonic() + 600
    while worker.checked < jobs and time.monotonic() < deadline:
        time.sleep(0.1)  # a benchmark's poll of a counter, not a synchronisation in a test
    after = os.times()
    worker.stop()
    store.close()
    own = (after.user + after.system - before.user - before.system) / max(worker.checked, 1)
    kids = after.children_user + after.children_system
    kids = (kids - before.children_user - before.children_system) / max(worker.checked, 1)
    print(f"IOC-side cost of {worker.checked} pre-flights (in-process core, no CA):")
    print(f"  CPU of the IOC process per pre-flight   {own * 1000:7.1f} ms")
    print(f"  CPU of its dry-run process              {kids * 1000:7.1f} ms ({kids / own:.0f} x)")
    for name, samples in held.items():
        print(
            f"  core.{name} (under its lock) median {statistics.median(samples) * 1000:5.2f} ms"
            f"   max {max(samples) * 1000:5.2f} ms"
        )


def night_queue() -> None:
    """QUEUE:ETA at release against the real end of the system test's demo night queue.

    The jobs of ``system_tests/test_night_queue_ca.py`` (``night_queue.py``): the demo
    beam's current given to the beam model (``--beam-current 7200``), a few short jobs run
    first so the server has learned its per-job overhead.
    """
    from night_queue import DEMO_BEAM_CURRENT, NIGHT, WARM_UP

    from scriptserver_ioc.client.client import ScriptServerClient

    os.environ["SCRIPTSERVER_DEMO_STATE"] = str(Path(tempfile.mkdtemp()) / "beamline.json")
    _, prefix = start_ioc("--beam-current", DEMO_BEAM_CURRENT)
    client = ScriptServerClient(prefix, timeout=10)
    for jobs in (WARM_UP, NIGHT):
        client.put("QUEUE:HOLD", 1)
        ids = client.add(jobs)
        client.wait_for(lambda: all(j.get("preflight") for j in client.queue()), timeout=300)
        eta = client.get("QUEUE:ETA")
        t0 = time.time()
        client.put("QUEUE:HOLD", 0)
        finish_text = client.get("QUEUE:FINISH")
        client.wait_for(
            lambda last=ids[-1]: client.get("LAST:ID") == last, timeout=300, interval=0.05
        )
        real = time.time() - t0
    history = {j["id"]: j for j in client.get_json("HISTORY")}
    print(f"night queue of {len(ids)} jobs (demo beam), estimates from pre-flight:")
    print(f"  QUEUE:ETA at release {eta:7.1f} s (QUEUE:FINISH {finish_text})")
    print(f"  real duration        {real:7.1f} s   error {100 * (eta - real) / real:+.1f} %")
    for job_id in ids:
        job = history[job_id]
        print(
            f"    job {job_id} {job['name']:<13} {job['state']:<5} "
            f"estimate {job['estimate']:6.2f} s ({job['estimate_source']}, "
            f"overhead {job['preflight']['overhead']:.3f} s), ran {job['elapsed']:6.2f} s"
        )


def main() -> None:
    throughput()
    ioc_side_cost()
    pause_while_preflighting()
    night_queue()


if __name__ == "__main__":
    main()
