"""Queue operations at 10,000 queued: this tree against an earlier revision, in one run.

Starts two IOCs side by side, this tree's and `--before`'s (default 79ac2f8, the last
commit before issue 8's changes, extracted with `git archive`), fills each with 10,000
`set_ei` jobs, then measures put-with-callback latency of QUEUE:ADD (`set_ei(25)`, checked
by companions), QUEUE:ADD of `get_ei()` (no companions), QUEUE:MOVE, QUEUE:UPDATE and
QUEUE:REMOVE, alternating between the two servers in rounds so both see the same machine
load. Both IOCs run without background pre-flight (`--preflight-workers 0`) when the
earlier revision has the option (79ac2f8 has not). Prints medians and this/before ratios.

Usage: python bench/bench_before_after.py [--quick] [--before REV]
"""

from __future__ import annotations

import json
import random
import sys
import time

from common import checkout, ms, start_ioc

from scriptserver_ioc.client.client import ScriptServerClient, encode_text

BEFORE = "79ac2f8"
QUEUED = 10_000
OPS = ("add", "add get_ei()", "move", "update", "remove")


class Server:
    """One IOC filled with QUEUED jobs, and the latencies measured on it."""

    def __init__(self, label: str, ioc, prefix: str) -> None:
        self.label, self.ioc, self.prefix = label, ioc, prefix
        self.client = ScriptServerClient(prefix, timeout=60)
        self.client.put("QUEUE:HOLD", 1)
        self.pvs = {
            name: self.client.pv(name)
            for name in ("QUEUE:ADD", "QUEUE:MOVE", "QUEUE:UPDATE", "QUEUE:REMOVE")
        }
        for _ in range(QUEUED // 1000):
            batch = [{"call": f"set_ei({10 + i % 50})"} for i in range(1000)]
            self.put("QUEUE:ADD", json.dumps(batch))
        self.client.wait_for(lambda: self.client.get("QUEUE:COUNT") == QUEUED, timeout=120)
        self.ids = [job["id"] for job in self.client.queue()]
        self.samples: dict[str, list[float]] = {op: [] for op in OPS}

    def put(self, name: str, text: str) -> float:
        t0 = time.perf_counter()
        assert self.pvs[name].put(encode_text(text), wait=True, timeout=60) == 1
        return time.perf_counter() - t0

    def round(self, rng: random.Random, repeat: int) -> None:
        """`repeat` of each operation; the queue stays at QUEUED jobs."""
        for _ in range(repeat):
            for op, call in (("add", "set_ei(25)"), ("add get_ei()", "get_ei()")):
                self.samples[op].append(self.put("QUEUE:ADD", call))
                self.put("QUEUE:REMOVE", str(self.client.get_json("REPLY")[0]["job_ids"][0]))
            move = {"id": rng.choice(self.ids), "to": rng.randrange(QUEUED)}
            self.samples["move"].append(self.put("QUEUE:MOVE", json.dumps(move)))
            edit = {"id": rng.choice(self.ids), "args": {"energy": rng.randrange(10, 60)}}
            self.samples["update"].append(self.put("QUEUE:UPDATE", json.dumps(edit)))
            self.put("QUEUE:ADD", "set_ei(30)")
            new_id = self.client.get_json("REPLY")[0]["job_ids"][0]
            self.samples["remove"].append(self.put("QUEUE:REMOVE", str(new_id)))


def compare(before: str = BEFORE, quick: bool = False) -> None:
    """Measure both servers in alternating rounds and print the table."""
    old_tree = checkout(before)
    config = (old_tree / "scriptserver_ioc" / "config.py").read_text(encoding="utf-8")
    # the same conditions on both sides when the earlier revision can switch pre-flight off
    quiet = ("--preflight-workers", "0") if "--preflight-workers" in config else ()
    servers = [
        Server(f"before ({before})", *start_ioc(*quiet, root=old_tree)),
        Server("this tree", *start_ioc("--preflight-workers", "0")),
    ]
    rng = random.Random(1)
    rounds, repeat = (4, 5) if quick else (10, 10)
    for _ in range(rounds):
        for server in servers:
            server.round(rng, repeat)
    old, new = servers
    print(f"at {QUEUED} queued, medians of {rounds * repeat} puts with callback each:")
    print(f"{'operation':>14} | {old.label:>18} | {'this tree':>10} | this/before")
    for op in OPS:
        a, b = ms(old.samples[op]), ms(new.samples[op])
        print(f"{op:>14} | {a:15.3f} ms | {b:7.3f} ms | {b / a:.2f}")
    for server in servers:
        server.ioc.terminate()
        server.ioc.wait(30)


if __name__ == "__main__":
    args = sys.argv[1:]
    rev = args[args.index("--before") + 1] if "--before" in args else BEFORE
    compare(rev, "--quick" in args)
