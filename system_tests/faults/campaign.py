"""Shared parts of the fault campaign: its size, snapshots of state, a caproto client.

`./run_tests.sh` runs the short campaign; `./run_tests.sh --long` (environment variable
SCRIPTSERVER_FAULTS=long) the full one. Figures are printed as `FAULTS <name>: ...` lines
(`pytest -s`) and kept in the README's reliability table.
"""

from __future__ import annotations

import json
import os

from conftest import CaprotoClient, wait_until

LONG = os.environ.get("SCRIPTSERVER_FAULTS") == "long"


def size(short: int, long: int) -> int:
    """How many of something the campaign does in this run."""
    return long if LONG else short


def report(name: str, **figures) -> None:
    """Print one line of figures (shown with `pytest -s`)."""
    print(f"\nFAULTS {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)


class Probe(CaprotoClient):
    """caproto access to one IOC: raw writes with their CA status, replies, snapshots."""

    connect_timeout = 10.0

    def text(self, name: str) -> str:
        data = self.pv(name).read(timeout=10).data
        return bytes(data).split(b"\0", 1)[0].decode("ascii")

    def json(self, name: str):
        return json.loads(self.text(name), parse_constant=_refuse)

    def value(self, name: str):
        return self.pv(name).read(timeout=10).data[0]

    def replies(self) -> list[dict]:
        return self.json("REPLY")

    def last_seq(self) -> int:
        replies = self.replies()
        return replies[0]["seq"] if replies else 0

    def replies_after(self, seq: int, wait_for: int = 0, timeout: float = 10.0) -> list[dict]:
        """Replies newer than `seq` (oldest first), waiting until at least `wait_for` came."""

        def newer() -> list[dict]:
            return [r for r in self.replies() if r["seq"] > seq][::-1]

        def enough() -> tuple[list[dict]] | None:  # (a tuple: an empty list is enough for 0)
            new = newer()
            return (new,) if len(new) >= wait_for else None

        found = wait_until(enough, timeout, fail=False)
        return found[0] if found else newer()

    def snapshot(self) -> dict:
        """What must not change under refused writes (no timestamps, no pre-flight notes)."""
        status = self.json("STATUS")
        keep = ("state", "hold", "on_error", "current_id", "queue_count")
        return {
            "status": {k: status.get(k) for k in keep},
            "queue": [_essence(job) for job in self.json("QUEUE")],
            "history": [(job["id"], job["state"]) for job in self.json("HISTORY")],
            "hold": self.value("QUEUE:HOLD"),
            "on_error": self.value("QUEUE:ON_ERROR"),
        }

    def heartbeat_alive(self, timeout: float = 5.0) -> bool:
        beat = self.value("SERVER:HEARTBEAT")
        changed = wait_until(
            lambda: self.value("SERVER:HEARTBEAT") != beat, timeout, 0.05, fail=False
        )
        return bool(changed)


def _essence(job: dict) -> tuple:
    return (
        job["id"],
        job["state"],
        job["name"],
        json.dumps(job.get("args"), sort_keys=True),
        job.get("script"),
        json.dumps(job.get("tags"), sort_keys=True),
    )


def _refuse(name: str):
    raise AssertionError(f"{name} in a JSON PV")
