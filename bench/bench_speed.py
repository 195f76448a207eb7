"""The figures of issue #23, over Channel Access, each with a baseline measured in the same run.

Starts the real IOC (and, for the hand-over figures, a second one with `--no-fork-server`)
on free loopback ports and drives them with pyepics, as a client would. Each line prints a
median, the baseline it is compared with (measured in this run, on this machine, now) and
the ratio; targets are those of the issue. The machine is shared: run it more than once
and under `nice` when others work, and compare ratios rather than absolute figures.

Figures (`--only a,b,...` to run some):
  first_line   QUEUE:ADD (put with callback) -> the job's first line (it sets
               CURRENT:MESSAGE, seen on a monitor); baseline: put -> monitor round trip
               on QUEUE:HOLD
  back_to_back 50 trivial jobs released at once, per job, fork server on and off
  queue_ops    single add, move, update at 1,000 queued (put with callback); batch add of
               1,000; baseline: put with callback of an unchanged QUEUE:HOLD
  add_costs    where a single add goes: set_ei(25) (companion checks in the companion
               worker) and get_ei() (none) over CA, and core.control alone in this process
  reads        a client reading the whole queue (QUEUE, decoded) at 1,000 and 10,000
               queued, and QUEUE:SUMMARY where the server has it; baseline: get of QUEUE:COUNT
  control      deferred PAUSE -> STATE PAUSED, RESUME -> RUNNING, soft ABORT -> IDLE on a
               job looping on its own lines; baseline: put -> monitor on QUEUE:HOLD
  memory       IOC RSS at start, with 10,000 queued, after clearing the queue
  fork_pages   memory pages a forked job copies from the fork server in a full garbage
               collection (Linux), against the same job without it
  tracing      a CPU-bound loop in the job's own code, traced (default mode) against the
               same loop black-box (runner level, bench_runner.py)

Usage: python bench/bench_speed.py [--quick] [--only NAMES]
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import psutil
from bench_ioc import Watch
from common import ms, python_startup, start_ioc, timed

from scriptserver_ioc.client.client import ScriptServerClient, encode_text

QUICK = "--quick" in sys.argv
ONLY = set(sys.argv[sys.argv.index("--only") + 1].split(",")) if "--only" in sys.argv else None
REPEAT = 7 if QUICK else 21


def wanted(name: str) -> bool:
    return ONLY is None or name in ONLY


def row(label: str, samples: list[float], base: float, base_label: str, target: str) -> None:
    """Print one figure: median, baseline, ratio and the issue's target."""
    value = ms(samples)
    print(
        f"{label:44} {value:9.2f} ms  | baseline {base:7.2f} ms ({base_label}) "
        f"ratio {value / base:6.1f} | target {target}"
    )


def put_monitor(client: ScriptServerClient, hold: Watch) -> list[float]:
    """Put -> monitor round trips on QUEUE:HOLD (the job-free floor of a control write)."""
    out = []
    for _ in range(REPEAT):
        value = client.get("QUEUE:HOLD")
        t0 = time.perf_counter()
        client.pv("QUEUE:HOLD").put(1 - value, wait=False)
        out.append(hold.wait(lambda v, w=1 - value: v == w, t0) - t0)
    client.put("QUEUE:HOLD", 0)
    return out


def put_callback(client: ScriptServerClient) -> list[float]:
    """Put with callback of an unchanged QUEUE:HOLD (the floor of a queue operation)."""
    pv = client.pv("QUEUE:HOLD")
    value = client.get("QUEUE:HOLD")
    return timed(lambda: pv.put(value, wait=True), REPEAT * 3)


def first_line(prefix: str) -> list[float]:
    """QUEUE:ADD until the job's first line has run: that line sets CURRENT:MESSAGE.

    (CURRENT:LINE is sampled every few ms: it would measure the sampling, not the start.)
    """
    client = ScriptServerClient(prefix)
    said, current = Watch(prefix + "CURRENT:MESSAGE"), Watch(prefix + "CURRENT:ID")
    add = client.pv("QUEUE:ADD")
    out = []
    for i in range(REPEAT):
        word = f"go{i}"
        first = f"import scriptserver; scriptserver.message({word!r})\n"
        script = encode_text(json.dumps({"script": first + "import time\ntime.sleep(0.05)\n"}))
        client.wait_for(lambda: client.get("CURRENT:ID") == 0 and client.get("STATE") == 0)
        time.sleep(1.0)  # an idle server: its next job process is ready
        t0 = time.perf_counter()
        add.put(script, wait=True)
        out.append(said.wait(lambda v, w=word: v == w, t0) - t0)
        current.wait(lambda v: v == 0, t0)
    return out


def back_to_back(prefix: str, count: int) -> float:
    """Seconds per job of `count` trivial jobs released at once."""
    client = ScriptServerClient(prefix, timeout=30)
    client.put("QUEUE:HOLD", 1)
    ids = client.add([{"script": "x = 1\n"} for _ in range(count)])
    last = Watch(prefix + "LAST:ID")
    t0 = time.perf_counter()
    client.put("QUEUE:HOLD", 0)
    end = last.wait(lambda v: v == ids[-1], t0, timeout=600)
    return (end - t0) / count


def fill(client: ScriptServerClient, size: int) -> None:
    add = client.pv("QUEUE:ADD")
    queued = client.get("QUEUE:COUNT")
    while queued < size:
        n = min(1000, size - queued)
        batch = json.dumps([{"call": f"set_ei({10 + i % 50})"} for i in range(n)])
        assert add.put(encode_text(batch), wait=True, timeout=60) == 1
        queued += n
    client.wait_for(lambda: client.get("QUEUE:COUNT") == size, timeout=60)


def queue_op_samples(client: ScriptServerClient) -> dict[str, list[float]]:
    """Seconds of single add, move and update at 1,000 queued, and of a batch add of 1,000."""
    client.put("QUEUE:HOLD", 1)
    fill(client, 1000)
    ids = [job["id"] for job in client.queue()]
    pvs = {n: client.pv(n) for n in ("QUEUE:ADD", "QUEUE:MOVE", "QUEUE:UPDATE", "QUEUE:REMOVE")}

    def put(name: str, text: str) -> float:
        t0 = time.perf_counter()
        assert pvs[name].put(encode_text(text), wait=True, timeout=30) == 1
        return time.perf_counter() - t0

    adds, moves, updates = [], [], []
    for i in range(REPEAT * 3):
        adds.append(put("QUEUE:ADD", "set_ei(25)"))
        put("QUEUE:REMOVE", str(client.get_json("REPLY")[0]["job_ids"][0]))
        moves.append(put("QUEUE:MOVE", json.dumps({"id": ids[i % len(ids)], "to": 500})))
        edit = {"id": ids[(7 * i) % len(ids)], "args": {"energy": 10 + i % 50}}
        updates.append(put("QUEUE:UPDATE", json.dumps(edit)))
    put("QUEUE:REMOVE", "all")
    batch = json.dumps([{"call": f"set_ei({10 + i % 50})"} for i in range(1000)])
    batches = []
    for _ in range(3 if QUICK else 7):
        batches.append(put("QUEUE:ADD", batch))
        put("QUEUE:REMOVE", "all")
    return {"add": adds, "move": moves, "update": updates, "batch": batches}


def queue_ops(client: ScriptServerClient, base: float) -> None:
    samples = queue_op_samples(client)
    label = "put-callback"
    row("single add at 1,000 queued", samples["add"], base, label, "<= 0.5 ms")
    row("move at 1,000 queued", samples["move"], base, label, "<= 0.3 ms")
    row("update at 1,000 queued", samples["update"], base, label, "<= 0.3 ms")
    row("batch add of 1,000", samples["batch"], base, label, "<= 50 ms")


def in_process_adds(size: int) -> dict[str, list[float]]:
    """Seconds of `control(core, "QUEUE:ADD")` alone: no Channel Access, no threads.

    The core as the IOC builds it (store, catalogue of the repository's commands, validator),
    companion checks called in this process instead of the companion worker.
    """
    import tempfile
    from pathlib import Path

    from common import ROOT

    from scriptserver_ioc.catalogue import Catalogue
    from scriptserver_ioc.core.server import ScriptServer
    from scriptserver_ioc.host import JobFolders, ThreadTimers
    from scriptserver_ioc.ioc.writes import control
    from scriptserver_ioc.store.sqlite import Store
    from scriptserver_ioc.validate.validator import Validator

    data = Path(tempfile.mkdtemp(prefix="bench-core-"))
    (data / "scripts").mkdir()
    store, catalogue = Store(data / "db.sqlite"), Catalogue([ROOT / "commands"])
    validator = Validator(catalogue, history=store, scripts_dir=data / "scripts")
    core = ScriptServer(
        store,
        catalogue,
        validator,
        files=JobFolders(data / "scripts"),
        timers=ThreadTimers(),
        logs_dir=data,
    )
    control(core, "QUEUE:HOLD", 1)
    batch = json.dumps([{"call": f"set_ei({10 + i % 50})"} for i in range(size)])
    assert control(core, "QUEUE:ADD", batch).ok
    out: dict[str, list[float]] = {}
    for spec in ("set_ei(25)", "get_ei()"):
        samples = []
        for _ in range(REPEAT * 10):
            t0 = time.perf_counter()
            reply = control(core, "QUEUE:ADD", spec)
            samples.append(time.perf_counter() - t0)
            assert reply.ok, reply.message
            control(core, "QUEUE:REMOVE", str(reply.job_ids[0]))
        out[spec] = samples
    store.close()
    return out


def add_costs(client: ScriptServerClient, base: float) -> None:
    """Where a single add's time goes (issue #23, item 3), at 1,000 queued."""
    client.put("QUEUE:HOLD", 1)
    fill(client, 1000)
    add, remove = client.pv("QUEUE:ADD"), client.pv("QUEUE:REMOVE")
    over_ca: dict[str, list[float]] = {"set_ei(25)": [], "get_ei()": []}
    for _ in range(REPEAT * 3):
        for spec, samples in over_ca.items():
            t0 = time.perf_counter()
            assert add.put(encode_text(spec), wait=True, timeout=30) == 1
            samples.append(time.perf_counter() - t0)
            job_id = client.get_json("REPLY")[0]["job_ids"][0]
            assert remove.put(encode_text(str(job_id)), wait=True, timeout=30) == 1
    inside = in_process_adds(1000)
    label = "put-callback"
    row("add set_ei(25) over CA (companion checks)", over_ca["set_ei(25)"], base, label, "-")
    row("add get_ei() over CA (no companions)", over_ca["get_ei()"], base, label, "-")
    row("  core.control add set_ei(25), in process", inside["set_ei(25)"], base, label, "-")
    row("  core.control add get_ei(), in process", inside["get_ei()"], base, label, "-")
    client.put("QUEUE:REMOVE", "all")


def reads(client: ScriptServerClient) -> None:
    count = client.pv("QUEUE:COUNT")
    base = ms(timed(lambda: count.get(use_monitor=False), REPEAT * 3))
    has_summary = client.pv("QUEUE:SUMMARY").wait_for_connection(2)
    queue_pv, add, remove = (client.pv(n) for n in ("QUEUE", "QUEUE:ADD", "QUEUE:REMOVE"))
    client.put("QUEUE:HOLD", 1)
    for size, target in ((1000, "<= 3 ms"), (10000, "<= 30 ms")):
        fill(client, size)
        client.queue()  # the first read after the adds builds the text once
        samples = timed(client.queue, REPEAT)
        row(f"read the whole queue (QUEUE), {size:,} jobs", samples, base, "get", target)
        raw = timed(lambda: queue_pv.get(use_monitor=False, as_numpy=True, timeout=60), REPEAT)
        row("  the same, CA get of the text alone", raw, base, "get", "-")
        changed = []
        for _ in range(REPEAT):  # each read after a change: the server's text is rebuilt
            assert add.put(encode_text("get_ei()"), wait=True, timeout=30) == 1
            t0 = time.perf_counter()
            client.queue()
            changed.append(time.perf_counter() - t0)
            assert remove.put(
                encode_text(str(client.get_json("REPLY")[0]["job_ids"][0])), wait=True
            )
        row("  the same, right after an add", changed, base, "get", "-")
        if has_summary:
            summary = timed(lambda: client.get_json("QUEUE:SUMMARY"), REPEAT)
            row(f"read QUEUE:SUMMARY, {size:,} jobs", summary, base, "get", "-")
    client.put("QUEUE:REMOVE", "all")


def control_samples(prefix: str) -> dict[str, list[float]]:
    """Seconds of deferred PAUSE -> PAUSED, RESUME -> RUNNING, soft ABORT -> IDLE."""
    client = ScriptServerClient(prefix)
    state = Watch(prefix + "STATE")
    pauses, resumes, aborts = [], [], []
    loop = json.dumps({"script": "x = 0\nwhile True:\n    x += 1\n    y = x * 2\n"})
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
    return {"pause": pauses, "resume": resumes, "abort": aborts}


def control(prefix: str) -> None:
    client = ScriptServerClient(prefix)
    base = ms(put_monitor(client, Watch(prefix + "QUEUE:HOLD")))
    samples = control_samples(prefix)
    label = "put->monitor"
    row("deferred PAUSE -> PAUSED", samples["pause"], base, label, "<= 5 ms")
    row("RESUME -> RUNNING", samples["resume"], base, label, "<= 5 ms")
    row("soft ABORT -> IDLE", samples["abort"], base, label, "<= 10 ms")


def memory(ioc, client: ScriptServerClient) -> None:
    proc = psutil.Process(ioc.pid)
    start = proc.memory_info().rss / 2**20
    client.put("QUEUE:HOLD", 1)
    fill(client, 10000)
    client.queue()  # reads build the queue's text too
    full = proc.memory_info().rss / 2**20
    client.put("QUEUE:REMOVE", "all")
    client.wait_for(lambda: client.get("QUEUE:COUNT") == 0)
    client.queue()
    time.sleep(1.0)
    cleared = proc.memory_info().rss / 2**20
    print(
        f"{'IOC RSS: start / 10,000 queued / cleared':44} {start:7.0f} / {full:.0f} / "
        f"{cleared:.0f} MiB  ({(full - start) * 1024 / 10000:.1f} KiB per queued job) "
        "| target <= 100 MiB, back near start after clear"
    )


def tracing() -> None:
    import bench_runner

    n = 3 if QUICK else 5
    traced, blackbox = bench_runner.bench_tracing(sys.executable, n)
    label = "CPU-bound loop in the job's code, traced"
    row(label, [traced / 1000], blackbox, "black-box", "<= 1.1x")


def fork_pages() -> None:
    """Memory pages a forked job copies from its fork server when it runs a full collection.

    Linux only (minor page faults from /proc). A spare forked from the fork server shares
    its memory until written to; counted from the spare's idle state to just after its
    job's ``gc.collect()``. Baseline: the same job's faults with an empty statement instead.
    """
    import bench_runner

    if not sys.platform.startswith("linux"):
        print("fork server page copies: Linux only, skipped")
        return

    def minor_faults(pid: int) -> int:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[7])

    def pages(collect: str) -> list[float]:
        bench = bench_runner.Bench(warm_spare=True, fork_server=True)
        out = []
        try:
            while len(out) < (3 if QUICK else 7):
                assert bench.runner.wait_for_spare(30)
                time.sleep(0.5)  # the spare's own start is over
                pid = bench.runner.spare_pid
                forked = psutil.Process(pid).ppid() == bench.runner.fork_server_pid
                before = minor_faults(pid)
                entry = bench.launch(
                    f"import scriptserver\n{collect}\nscriptserver.message('x')\n"
                    "import time\ntime.sleep(0.3)\n"
                )
                bench.runner.start(entry)
                bench.events.wait(entry["job_id"], "message")
                after = minor_faults(pid)
                bench.events.wait(entry["job_id"], "finished")
                if forked:  # the first spares are started before the fork server is ready
                    out.append(float(after - before))
        finally:
            bench.close()
        return out

    collected, plain = pages("import gc; gc.collect()"), pages("pass")
    value, base = statistics.median(collected), statistics.median(plain)
    print(
        f"{'forked job: pages copied by gc.collect()':44} {value - base:9.0f} pages "
        f"| baseline {base:.0f} pages (the job without it) | target - (fewer is better)"
    )


def main() -> None:
    print(f"issue #23 figures ({'quick' if QUICK else 'full'}; medians of {REPEAT} unless said)")
    ioc, prefix = start_ioc()
    client = ScriptServerClient(prefix, timeout=60)
    if wanted("memory"):
        memory(ioc, client)
    callback = ms(put_callback(client))
    if wanted("first_line") or wanted("back_to_back"):
        cold, cold_prefix = start_ioc("--no-fork-server")
        hold = Watch(prefix + "QUEUE:HOLD")
        monitor_base = ms(put_monitor(client, hold))
        if wanted("first_line"):
            for label, p in (("fork server", prefix), ("--no-fork-server", cold_prefix)):
                samples = first_line(p)
                row(f"add -> first line, {label}", samples, monitor_base, "put->monitor", "<= 2 ms")
        if wanted("back_to_back"):
            count = 50
            fork = python_startup(REPEAT)
            for label, p in (("fork server", prefix), ("--no-fork-server", cold_prefix)):
                per_job = back_to_back(p, count)
                row(
                    f"{count} trivial jobs back to back, {label}",
                    [per_job],
                    ms(fork),
                    "python -c pass",
                    "<= 10 ms per job",
                )
        cold.terminate()
    if wanted("queue_ops"):
        queue_ops(client, callback)
    if wanted("add_costs"):
        add_costs(client, callback)
    if wanted("reads"):
        reads(client)
    if wanted("control"):
        control(prefix)
    ioc.terminate()
    if wanted("tracing"):
        tracing()
    if wanted("fork_pages"):
        fork_pages()


if __name__ == "__main__":
    main()
