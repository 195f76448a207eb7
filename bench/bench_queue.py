"""Queue operation latency over Channel Access, against a CA round trip measured in the same run.

Starts the real IOC in a subprocess on a free loopback port and drives it with pyepics:
put-with-callback latency of QUEUE:ADD, QUEUE:MOVE, QUEUE:UPDATE and QUEUE:REMOVE with 10,
1,000 and 10,000 jobs queued; a batch add of 1,000 jobs; write-to-monitor latency on
QUEUE:COUNT; idle CPU and memory of the IOC; responsiveness while another client adds
jobs whose `validate_` takes 1 s (`bench_responsive.py`: p50/p99 of a STATE get and a
QUEUE:COUNT monitor update against the same reads on the idle server); and the operations
at 10,000 queued against an earlier revision's IOC in the same run
(`bench_before_after.py`, `--before REV`, default the commit before issue 8). Baseline: a
put with callback of an unchanged QUEUE:HOLD and a `get` of QUEUE:COUNT (one CA round trip).

Usage: python bench/bench_queue.py [--quick] [--before REV]
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time

import epics
import psutil
from bench_before_after import BEFORE, compare
from bench_responsive import responsiveness
from common import ms, start_ioc, timed

from scriptserver_ioc.client.client import ScriptServerClient, encode_text

QUICK = "--quick" in sys.argv


def main() -> None:
    ioc, PREFIX = start_ioc()
    client = ScriptServerClient(PREFIX, timeout=30)
    client.put("QUEUE:HOLD", 1)
    add_pv, move_pv, remove_pv, update_pv = (
        client.pv(n) for n in ("QUEUE:ADD", "QUEUE:MOVE", "QUEUE:REMOVE", "QUEUE:UPDATE")
    )
    count_pv = client.pv("QUEUE:COUNT")
    repeat = 30 if QUICK else 100

    def put(pv, text: str) -> None:
        assert pv.put(encode_text(text), wait=True, timeout=30) == 1

    get_rt = timed(lambda: count_pv.get(use_monitor=False), repeat * 2)
    hold_pv = client.pv("QUEUE:HOLD")
    baseline = timed(lambda: hold_pv.put(1, wait=True), repeat * 2)
    print(
        f"baseline: put with callback of an unchanged QUEUE:HOLD {ms(baseline):.3f} ms; "
        f"CA get round trip {ms(get_rt):.3f} ms (medians of {len(baseline)})"
    )
    print()
    print(
        f"{'queued':>7} | {'add ms':>8} | {'move ms':>8} | {'update ms':>9} | {'remove ms':>9} "
        "| ratios to baseline"
    )
    rng = random.Random(1)
    queued = 0
    sizes = (10, 1000) if QUICK else (10, 1000, 10000)
    for size in sizes:
        while queued < size:
            n = min(1000, size - queued)
            put(add_pv, json.dumps([{"call": f"set_ei({10 + i % 50})"} for i in range(n)]))
            queued += n
        client.wait_for(lambda s=size: count_pv.get(use_monitor=False) == s, timeout=60)
        ids = [job["id"] for job in client.queue()]
        adds, moves, updates, removes = [], [], [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            put(add_pv, "set_ei(25)")
            adds.append(time.perf_counter() - t0)
            new_id = client.get_json("REPLY")[0]["job_ids"][0]
            target = rng.randrange(size)
            t0 = time.perf_counter()
            put(move_pv, json.dumps({"id": rng.choice(ids), "to": target}))
            moves.append(time.perf_counter() - t0)
            edit = {"id": rng.choice(ids), "args": {"energy": rng.randrange(10, 60)}}
            t0 = time.perf_counter()
            put(update_pv, json.dumps(edit))
            updates.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            put(remove_pv, str(new_id))
            removes.append(time.perf_counter() - t0)
        b = ms(baseline)
        print(
            f"{size:>7} | {ms(adds):8.3f} | {ms(moves):8.3f} | {ms(updates):9.3f} | "
            f"{ms(removes):9.3f} | add {ms(adds) / b:.1f}x move {ms(moves) / b:.1f}x "
            f"update {ms(updates) / b:.1f}x remove {ms(removes) / b:.1f}x"
        )
    plain = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        put(add_pv, "get_ei()")
        plain.append(time.perf_counter() - t0)
        put(remove_pv, str(client.get_json("REPLY")[0]["job_ids"][0]))
    print(
        f"add of a command without companions (get_ei()) at {size} queued: {ms(plain):.3f} ms "
        f"({ms(plain) / ms(baseline):.1f}x baseline)"
    )
    put(remove_pv, "all")

    batch = json.dumps([{"call": f"set_ei({10 + i % 50})"} for i in range(1000)])
    batches = []
    for _ in range(3 if QUICK else 7):
        t0 = time.perf_counter()
        put(add_pv, batch)
        batches.append(time.perf_counter() - t0)
        put(remove_pv, "all")
    print(
        f"\nbatch add of 1000 jobs: {ms(batches):.1f} ms "
        f"({ms(batches) / ms(baseline):.0f}x baseline; bluesky-queueserver: 800 ms)"
    )

    seen = threading.Event()
    latencies = []

    def on_count(value=None, **_):
        seen.set()

    monitor = epics.PV(PREFIX + "QUEUE:COUNT", callback=on_count, auto_monitor=True)
    monitor.wait_for_connection(5)
    seen.wait(5)  # the first callback carries the current value
    for _ in range(repeat):
        seen.clear()
        t0 = time.perf_counter()
        add_pv.put(encode_text("set_ei(25)"), wait=False)
        seen.wait(5)
        latencies.append(time.perf_counter() - t0)
    print(
        f"write -> QUEUE:COUNT monitor update: {ms(latencies):.3f} ms "
        f"({ms(latencies) / ms(baseline):.1f}x baseline)"
    )
    put(remove_pv, "all")

    proc = psutil.Process(ioc.pid)
    time.sleep(1.0)
    cpu0 = sum(proc.cpu_times()[:2])
    idle = 5.0 if QUICK else 10.0
    time.sleep(idle)
    cpu = (sum(proc.cpu_times()[:2]) - cpu0) / idle * 100
    print(
        f"idle IOC: {cpu:.2f} % of one core over {idle:.0f} s, RSS "
        f"{proc.memory_info().rss / 1e6:.0f} MB"
    )
    ioc.terminate()
    ioc.wait(10)
    print()
    responsiveness(QUICK)
    print()
    args = sys.argv[1:]
    compare(args[args.index("--before") + 1] if "--before" in args else BEFORE, QUICK)


if __name__ == "__main__":
    main()
