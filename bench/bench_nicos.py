"""NICOS bridge latency: `getstatus` as the IBEX GUI sends it, and Channel Access beside it.

Latencies are from the request to the last reply frame received, without decoding the JSON
(the client's cost, shown separately).

Starts the real IOC with `--nicos-port` and measures, with the GUI-like client
(`scriptserver_ioc.nicos.client.GuiClient`: REQ socket, 3-frame requests):

* `getstatus` round trip p50/p99 with 0, 1,000 and 10,000 jobs queued (queue held),
  against `getmessages 1` (a tiny reply: the ZeroMQ round-trip floor) in the same run;
* the same while jobs start back to back (the hold released on short jobs);
* the CA side: a `get` of QUEUE:COUNT and a put-with-callback of QUEUE:HOLD, p50/p99,
  without any GUI, with one GUI polling as the GUI does (1 s: getstatus + getmessages),
  and with 10 clients polling as fast as they can (a stress far beyond one GUI).

Usage: python bench/bench_nicos.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import epics
from common import free_port, start_ioc, timed

from scriptserver_ioc.client.client import ScriptServerClient, encode_text
from scriptserver_ioc.nicos.client import GuiClient, StatusPoller
from scriptserver_ioc.nicos.credentials import hash_line

QUICK = "--quick" in sys.argv
LOGIN, PASSWORD = "ibex", "bench-password"


def pct(samples: list[float], q: float) -> float:
    """The q-quantile in milliseconds."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def row(label: str, samples: list[float], floor: list[float] | None = None) -> str:
    ratio = f"{statistics.median(samples) / statistics.median(floor):7.1f}x" if floor else ""
    return (
        f"{label:<44} p50 {pct(samples, 0.5):8.3f} ms  p99 {pct(samples, 0.99):8.3f} ms  "
        f"max {max(samples) * 1000:8.3f} ms  {ratio}"
    )


def fill(client: ScriptServerClient, count: int) -> None:
    """Queue `count` small script jobs over CA in batches."""
    pv = client.pv("QUEUE:ADD")
    while count > 0:
        batch = min(count, 2000)
        specs = [{"script": f"print({i})", "name": f"job {i}"} for i in range(batch)]
        assert pv.put(encode_text(json.dumps(specs)), wait=True, timeout=120) == 1
        count -= batch


def paced(fn, seconds: float, interval: float = 0.01) -> list[float]:
    """Durations of calls of `fn`, one every `interval` seconds, for `seconds`."""
    out: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        out.extend(timed(fn, 1))
        time.sleep(interval)
    return out


def ca_latencies(client: ScriptServerClient, seconds: float) -> tuple[list[float], list[float]]:
    """CA get of QUEUE:COUNT and put-callback of QUEUE:HOLD, paced over `seconds` each."""
    count_pv, hold_pv = client.pv("QUEUE:COUNT"), client.pv("QUEUE:HOLD")
    gets = paced(lambda: count_pv.get(use_monitor=False), seconds)
    puts = paced(lambda: hold_pv.put(1, wait=True), seconds)
    return gets, puts


def pollers(address: str, mode: str, count: int) -> None:
    """Child-process entry: `count` GUI clients polling (mode `gui`: every 1 s; `flat`:
    back to back) until stdin closes; prints their number of rounds, max latency, failures.
    """
    stop = threading.Event()
    results: list[StatusPoller] = []
    for _ in range(count):
        client = GuiClient(address)
        client.connect(LOGIN, PASSWORD)
        results.append(StatusPoller(client, period=1.0 if mode == "gui" else 0.0).start())
    print("polling", flush=True)
    sys.stdin.read()
    stop.set()
    for poller in results:
        poller.stop()
    latencies = [x for poller in results for x in poller.latencies]
    failures = sum(len(poller.failures) for poller in results)
    print(json.dumps({"rounds": len(latencies), "max": max(latencies), "failures": failures}))


def with_pollers(address: str, mode: str, count: int, measure):
    """Run `measure()` while `count` GUI clients poll from another process."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--pollers", address, mode, str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "polling"
    began = time.perf_counter()
    result = measure()
    elapsed = time.perf_counter() - began
    out, _ = child.communicate("", timeout=60)
    stats = json.loads(out.strip().splitlines()[-1])
    stats["rate"] = stats["rounds"] / elapsed
    return result, stats


def main() -> None:
    creds = Path(tempfile.mkdtemp(prefix="bench-nicos-")) / "creds.txt"
    creds.write_text(hash_line(LOGIN, PASSWORD) + "\n")
    port = free_port()
    ioc, prefix = start_ioc("--nicos-port", str(port), "--nicos-credentials", str(creds))
    address = f"tcp://127.0.0.1:{port}"
    ca = ScriptServerClient(prefix, timeout=60)
    ca.put("QUEUE:HOLD", 1)
    gui = GuiClient(address)
    gui.connect(LOGIN, PASSWORD)
    repeat = 100 if QUICK else 300
    floor = timed(lambda: gui.request_frames("getmessages", "1"), repeat)
    print(row("baseline: getmessages 1 (ZeroMQ round trip)", floor))
    print()
    queued = 0
    for target in (0, 1000) if QUICK else (0, 1000, 10000):
        fill(ca, target - queued)
        queued = target
        time.sleep(1.0)  # let pre-flight checks of the new jobs settle
        size = len(json.dumps(gui.status()))
        samples = timed(lambda: gui.request_frames("getstatus"), repeat)
        decode = timed(gui.status, 20)
        print(row(f"getstatus, {queued:>6} queued ({size / 1e6:.2f} MB)", samples, floor))
        print(
            f"  with the client's JSON decoding (the GUI's cost too): p50 {pct(decode, 0.5):.3f} ms"
        )

    print()
    print("while jobs start back to back (hold released):")
    ca.put("QUEUE:HOLD", 0)
    started = ca.get("QUEUE:COUNT")
    samples = paced(lambda: gui.request_frames("getstatus"), 3.0 if QUICK else 10.0)
    ca.put("QUEUE:HOLD", 1)
    ran = started - ca.get("QUEUE:COUNT")
    print(row(f"getstatus, {queued} queued, {ran} jobs started meanwhile", samples, floor))

    print()
    print(f"Channel Access with {ca.get('QUEUE:COUNT')} queued:")
    ca_seconds = 3.0 if QUICK else 10.0
    base_get, base_put = ca_latencies(ca, ca_seconds)
    print(row("CA get QUEUE:COUNT, no GUI", base_get))
    print(row("CA put-callback QUEUE:HOLD, no GUI", base_put))
    for label, mode, count in (
        ("one GUI polling at 1 s", "gui", 1),
        ("10 clients flat out", "flat", 10),
    ):
        (gets, puts), stats = with_pollers(
            address, mode, count, lambda: ca_latencies(ca, ca_seconds)
        )
        print(row(f"CA get QUEUE:COUNT, {label}", gets, base_get))
        print(row(f"CA put-callback QUEUE:HOLD, {label}", puts, base_put))
        print(
            f"  their getstatus meanwhile: {stats['rate']:.1f} per second, "
            f"max {stats['max'] * 1000:.1f} ms, failures {stats['failures']}"
        )
    gui.close()
    epics.ca.finalize_libca()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--pollers"]:
        pollers(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
