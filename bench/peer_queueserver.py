"""bluesky-queueserver through the operations of `bench_speed.py`: run in the peer's own venv.

Started by `bench_peer.py` with the interpreter of a venv holding bluesky-queueserver (never
this project's venv). Starts Redis and `start-re-manager` on free loopback ports with a
startup script of trivial plans, opens the environment, times each operation from a REQ
socket (JSON encoding, as the queueserver's own client) and prints one JSON object:
figure -> list of samples in seconds (memory in MiB). Medians are taken by the caller.

Usage: <peer venv>/bin/python bench/peer_queueserver.py REDIS_SERVER [--quick]
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import zmq

QUICK = "--quick" in sys.argv
REPEAT = 7 if QUICK else 21

STARTUP = '''\
"""Plans for the benchmark: the same trivial work as the script server's jobs."""
import time

import bluesky.plan_stubs as bps
from bluesky import RunEngine

RE = RunEngine({})


def mark_plan(path: str = ""):
    """Write the time its body starts to a file, then end.

    Parameters
    ----------
    path : str
        file to write
    """
    with open(path, "w") as f:
        f.write(repr(time.time()))
    yield from bps.null()


def noop_plan():
    """A plan that does nothing."""
    yield from bps.null()


def set_ei(energy: float = 25.0):
    """A plan with one number, like the script server's set_ei(25).

    Parameters
    ----------
    energy : float
        incident energy
    """
    yield from bps.null()


def loop_plan():
    """Loops with a checkpoint each time, so that a deferred pause can take effect."""
    while True:
        yield from bps.checkpoint()
        yield from bps.null()
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Peer:
    """Redis, the RE Manager and a REQ client of it."""

    def __init__(self, redis_server: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-peer-"))
        (self.dir / "startup").mkdir()
        (self.dir / "startup" / "startup.py").write_text(STARTUP)
        package = Path(__import__("bluesky_queueserver").__file__).parent
        permissions = package / "profile_collection_sim" / "user_group_permissions.yaml"
        shutil.copy(permissions, self.dir / "startup" / "user_group_permissions.yaml")
        bin_dir = Path(sys.executable).parent
        subprocess.run(
            [
                str(bin_dir / "qserver-list-plans-devices"),
                "--startup-dir",
                str(self.dir / "startup"),
                "--file-dir",
                str(self.dir / "startup"),
            ],
            check=True,
            capture_output=True,
        )
        redis_port, self.port = free_port(), free_port()
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.redis = subprocess.Popen(
            [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no"],
            **quiet,
        )
        self.manager = subprocess.Popen(
            [
                str(bin_dir / "start-re-manager"),
                "--startup-dir",
                str(self.dir / "startup"),
                "--zmq-control-addr",
                f"tcp://127.0.0.1:{self.port}",
                "--zmq-info-addr",
                f"tcp://127.0.0.1:{free_port()}",
                "--redis-addr",
                f"127.0.0.1:{redis_port}",
                "--redis-name-prefix",
                f"qs_bench_{os.getpid()}",
                "--silent",
            ],
            **quiet,
        )
        self.context = zmq.Context()
        self.socket = self._connect()
        self.wait(lambda s: s.get("manager_state") == "idle", 60)

    def _connect(self) -> zmq.Socket:
        sock = self.context.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, 60_000)
        sock.connect(f"tcp://127.0.0.1:{self.port}")
        return sock

    def call(self, method: str, **params) -> dict:
        """One request and its reply (the manager answers one request at a time)."""
        self.socket.send(json.dumps({"method": method, "params": params}).encode())
        return json.loads(self.socket.recv())

    def ok(self, method: str, **params) -> dict:
        reply = self.call(method, **params)
        if not reply.get("success", True):
            raise RuntimeError(f"{method}: {reply.get('msg')}")
        return reply

    def status(self) -> dict:
        return self.call("status")

    def wait(self, condition, timeout: float = 60.0, interval: float = 0.001) -> float:
        """Poll `status` until `condition(status)`; the time it first held."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if condition(self.status()):
                    return time.perf_counter()
            except zmq.Again:  # not up yet: a REQ socket must be made anew
                self.socket.close()
                self.socket = self._connect()
            if time.monotonic() > deadline:
                raise TimeoutError("the RE Manager did not reach the state")
            time.sleep(interval)

    def add(self, item: dict, **where) -> dict:
        return self.ok("queue_item_add", item=item, user="bench", user_group="primary", **where)

    def add_batch(self, items: list[dict]) -> dict:
        return self.ok("queue_item_add_batch", items=items, user="bench", user_group="primary")

    def rss(self) -> float:
        """MiB resident: Redis, the watchdog, the manager and the worker."""
        procs = [psutil.Process(self.redis.pid), psutil.Process(self.manager.pid)]
        procs += procs[1].children(recursive=True)
        return sum(p.memory_info().rss for p in procs) / 2**20

    def close(self) -> None:
        try:
            self.call("environment_close")
            self.call("manager_stop", option="safe_off")
            self.manager.wait(10)
        except Exception:
            pass
        for proc in (self.manager, self.redis):
            if proc.poll() is None:
                for child in psutil.Process(proc.pid).children(recursive=True):
                    child.kill()
                proc.kill()
                proc.wait(10)
        self.socket.close()
        self.context.term()
        shutil.rmtree(self.dir, ignore_errors=True)


def plan(name: str, **kwargs) -> dict:
    return {"item_type": "plan", "name": name, "kwargs": kwargs}


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def idle(status: dict) -> bool:
    return status["manager_state"] == "idle" and status["items_in_queue"] == 0


def first_line(peer: Peer) -> list[float]:
    """queue_item_add with autostart on -> the plan's body runs (the time it writes)."""
    peer.ok("queue_autostart", enable=True)
    out = []
    for i in range(REPEAT):
        marker = peer.dir / f"mark{i}"
        peer.wait(idle)
        time.sleep(1.0)  # an idle server, as for the script server
        t0 = time.time()
        peer.add(plan("mark_plan", path=str(marker)))
        while not marker.exists() or not marker.read_text():
            time.sleep(0.0005)
        out.append(float(marker.read_text()) - t0)
    peer.ok("queue_autostart", enable=False)
    peer.wait(idle)
    return out


def back_to_back(peer: Peer, count: int = 50) -> list[float]:
    peer.add_batch([plan("noop_plan") for _ in range(count)])
    t0 = time.perf_counter()
    peer.ok("queue_start")
    end = peer.wait(idle, timeout=600, interval=0.01)
    return [(end - t0) / count]


def fill(peer: Peer, size: int) -> None:
    queued = peer.status()["items_in_queue"]
    while queued < size:
        n = min(1000, size - queued)
        peer.add_batch([plan("set_ei", energy=10.0 + i % 50) for i in range(n)])
        queued += n


def queue_ops(peer: Peer) -> dict[str, list[float]]:
    fill(peer, 1000)
    items = peer.ok("queue_get")["items"]
    adds, moves, updates = [], [], []
    for i in range(REPEAT * 3):
        t0 = time.perf_counter()
        added = peer.add(plan("set_ei", energy=25.0))
        adds.append(time.perf_counter() - t0)
        peer.ok("queue_item_remove", uid=added["item"]["item_uid"])
        uid = items[i % len(items)]["item_uid"]
        t0 = time.perf_counter()
        peer.ok("queue_item_move", uid=uid, pos_dest=500)
        moves.append(time.perf_counter() - t0)
        edited = dict(items[(7 * i) % len(items)], kwargs={"energy": 10.0 + i % 50})
        t0 = time.perf_counter()
        peer.ok("queue_item_update", item=edited, user="bench", user_group="primary")
        updates.append(time.perf_counter() - t0)
    peer.ok("queue_clear")
    batch = [plan("set_ei", energy=10.0 + i % 50) for i in range(1000)]
    batches = []
    for _ in range(3 if QUICK else 7):
        t0 = time.perf_counter()
        peer.add_batch(batch)
        batches.append(time.perf_counter() - t0)
        peer.ok("queue_clear")
    return {"add": adds, "move": moves, "update": updates, "batch": batches}


def reads(peer: Peer) -> dict[str, list[float]]:
    out = {}
    for size in (1000, 10000):
        fill(peer, size)
        out[f"read{size}"] = timed(lambda: peer.ok("queue_get"), REPEAT)
        if size == 10000:
            out["rss_full"] = [peer.rss()]
    peer.ok("queue_clear")
    time.sleep(1.0)
    out["rss_cleared"] = [peer.rss()]
    return out


def control(peer: Peer) -> dict[str, list[float]]:
    pauses, resumes, aborts = [], [], []
    for _ in range(REPEAT):
        peer.wait(idle)
        peer.add(plan("loop_plan"))
        peer.ok("queue_start")
        peer.wait(lambda s: s["manager_state"] == "executing_queue")
        time.sleep(0.05)
        t0 = time.perf_counter()
        peer.ok("re_pause", option="deferred")
        pauses.append(peer.wait(lambda s: s["manager_state"] == "paused") - t0)
        t0 = time.perf_counter()
        peer.ok("re_resume")
        running = lambda s: s["manager_state"] == "executing_queue" and s["re_state"] == "running"  # noqa: E731
        resumes.append(peer.wait(running) - t0)
        t0 = time.perf_counter()
        peer.ok("re_pause", option="immediate")  # abort needs a paused plan
        peer.wait(lambda s: s["manager_state"] == "paused")
        t0 = time.perf_counter()
        peer.ok("re_abort")
        aborts.append(peer.wait(lambda s: s["manager_state"] == "idle") - t0)
        peer.ok("queue_clear")
    return {"pause": pauses, "resume": resumes, "abort": aborts}


def main() -> None:
    peer = Peer(sys.argv[1])
    try:
        figures: dict[str, list[float]] = {"rss_start": [peer.rss()]}
        peer.ok("environment_open")
        peer.wait(lambda s: s["worker_environment_exists"] and s["manager_state"] == "idle")
        figures["rss_open"] = [peer.rss()]
        figures["first_line"] = first_line(peer)
        figures["back_to_back"] = back_to_back(peer)
        figures.update(queue_ops(peer))
        figures.update(reads(peer))
        figures.update(control(peer))
    finally:
        peer.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
