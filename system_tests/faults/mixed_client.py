"""One client process of the mixed-operations campaign (test_mixed_clients_ca.py).

``python mixed_client.py LIBRARY PREFIX SEED OPS BLOCKER START OUT``: connect with
LIBRARY (``pyepics`` or ``caproto``), say ``ready`` on stdout, wait for the file START,
then do OPS seeded random control writes with put-completion and write one JSON line per
write to OUT: the PV, the value written, its request id (where the PV takes one), the
newest REPLY seq seen before the write and the REPLY entries for that PV seen after it.
BLOCKER is the id of the running job (paused and resumed, never otherwise touched).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

PUT_TIMEOUT = 30.0
CALLS = ["set_ei({})", "set_temperature({})", "change_sample({})", "set_ei(energy={})"]


class Channels:
    """Writes and reads through pyepics or caproto (one of each kind of client)."""

    def __init__(self, library: str, prefix: str) -> None:
        self.library, self.prefix, self._pvs = library, prefix, {}
        if library == "caproto":
            from caproto.threading.client import Context

            self._context = Context()

    def _pv(self, name: str):
        if name not in self._pvs:
            if self.library == "pyepics":
                import epics

                pv = epics.PV(self.prefix + name, auto_monitor=False)
                if not pv.wait_for_connection(10):
                    raise RuntimeError(f"cannot connect to {name}")
            else:
                (pv,) = self._context.get_pvs(self.prefix + name, timeout=10)
                pv.wait_for_connection(timeout=10)
            self._pvs[name] = pv
        return self._pvs[name]

    def write(self, name: str, value) -> None:
        pv = self._pv(name)
        text = isinstance(value, str)
        if self.library == "pyepics":
            import numpy as np

            data = np.frombuffer(value.encode() + b"\0", dtype=np.uint8) if text else value
            if pv.put(data, wait=True, timeout=PUT_TIMEOUT) != 1:
                raise RuntimeError(f"the put to {name} did not complete")
        else:
            data = value.encode() + b"\0" if text else [value]
            pv.write(data, wait=True, timeout=PUT_TIMEOUT)

    def read_json(self, name: str):
        pv = self._pv(name)
        if self.library == "pyepics":
            data = pv.get(as_numpy=True, use_monitor=False, timeout=10).tobytes()
        else:
            data = bytes(pv.read(timeout=10).data)
        return json.loads(data.split(b"\0", 1)[0].decode("ascii"))


class Mix:
    """The seeded random choice of the next write, from what this client last saw."""

    def __init__(self, rng: random.Random, name: str, blocker: int) -> None:
        self.rng, self.name, self.blocker = rng, name, blocker
        self.queued: list[int] = []
        self.finished: list[int] = []
        self.count = 0

    def _rid(self) -> str:
        self.count += 1
        return f"{self.name}-{self.count}"

    def _some_id(self) -> int:
        if self.queued and self.rng.random() < 0.9:
            return self.rng.choice(self.queued)
        return self.rng.randint(1, self.blocker + 400)  # maybe gone, maybe never was

    def _target(self) -> int:
        job_id = self._some_id()
        return job_id if job_id != self.blocker else job_id + 1

    def _spec(self) -> dict:
        rng = self.rng
        roll = rng.random()
        if roll < 0.45:
            value = rng.choice([25, 40, 80, 120, 9999])  # 9999: refused, out of range
            spec = {"call": rng.choice(CALLS[:1] + CALLS[3:]).format(value)}
        elif roll < 0.75:
            spec = {"command": "set_temperature", "args": {"temperature": rng.choice([5, 50, 280])}}
        else:
            spec = {"script": f"print({rng.randint(0, 99)})\n"}
        if rng.random() < 0.3:
            spec["tags"] = {"client": self.name, "n": rng.randint(0, 9)}
        if rng.random() < 0.2:
            spec["position"] = rng.randint(0, 3)
        return spec

    def next(self) -> tuple[str, object, str | None]:
        """(PV, value, request id) of the next write."""
        rng = self.rng
        kind = rng.choices(
            [
                "add",
                "batch",
                "remove",
                "move",
                "update",
                "repeat",
                "rerun",
                "skip",
                "hold",
                "on_error",
                "clear",
                "validate",
                "pause",
                "resume",
            ],
            [20, 4, 10, 13, 9, 5, 3, 7, 6, 2, 1, 6, 7, 7],
        )[0]
        rid = self._rid()
        if kind == "add":
            return "QUEUE:ADD", json.dumps({**self._spec(), "request_id": rid}), rid
        if kind == "batch":
            specs = [self._spec() for _ in range(rng.randint(2, 3))]
            specs[0]["request_id"] = rid
            return "QUEUE:ADD", json.dumps(specs), rid
        if kind == "remove":
            chosen = sorted({self._target() for _ in range(rng.randint(1, 2))})
            return "QUEUE:REMOVE", json.dumps(chosen) if len(chosen) > 1 else str(chosen[0]), None
        if kind == "move":
            how = rng.choice(["to", "by", "before", "after", "to"])
            target = {
                "to": rng.choice([0, 1, 2, "top", "bottom"]),
                "by": rng.randint(-3, 3),
                "before": self._target(),
                "after": self._target(),
            }[how]
            value = {"id": self._target(), how: target, "request_id": rid}
            return "QUEUE:MOVE", json.dumps(value), rid
        if kind == "update":
            fields = rng.choice(
                [
                    {"name": f"renamed by {self.name}"},
                    {"call": f"set_ei({rng.choice([30, 60])})"},
                    {"tags": {"edited": rng.randint(0, 9)}},
                    {"call": "set_ei(-1)"},
                ]
            )
            value = {"id": self._target(), **fields, "request_id": rid}
            return "QUEUE:UPDATE", json.dumps(value), rid
        if kind == "repeat":
            value = {"id": self._target(), "times": rng.randint(1, 2), "request_id": rid}
            return "QUEUE:REPEAT", json.dumps(value), rid
        if kind == "rerun":
            job_id = rng.choice(self.finished) if self.finished else self._target()
            return "QUEUE:RERUN", json.dumps({"id": job_id, "request_id": rid}), rid
        if kind == "skip":
            return "QUEUE:SKIP", str(self._target()), None
        if kind == "hold":
            return "QUEUE:HOLD", rng.randint(0, 1), None
        if kind == "on_error":
            return "QUEUE:ON_ERROR", rng.randint(0, 1), None
        if kind == "clear":
            return "QUEUE:CLEAR", 1, None
        if kind == "validate":
            return "VALIDATE", json.dumps({**self._spec(), "request_id": rid}), rid
        if kind == "pause":
            return "PAUSE", rng.randint(1, 2), None
        return "RESUME", 1, None


def main(argv: list[str]) -> int:
    library, prefix, seed, ops, blocker, start, out = argv
    rng = random.Random(int(seed))
    channels = Channels(library, prefix)
    mix = Mix(rng, f"c{seed}", int(blocker))
    for name in ("REPLY", "QUEUE", "HISTORY", "QUEUE:ADD"):
        channels._pv(name)
    print("ready", flush=True)
    while not os.path.exists(start):
        time.sleep(0.01)
    with open(out, "w", encoding="utf-8") as records:
        for number in range(int(ops)):
            if number % 2 == 0:
                mix.queued = [job["id"] for job in channels.read_json("QUEUE")]
            if number % 25 == 0:
                mix.finished = [job["id"] for job in channels.read_json("HISTORY")]
            pv, value, rid = mix.next()
            replies = channels.read_json("REPLY")
            before = replies[0]["seq"] if replies else 0
            channels.write(pv, value)
            after = [r for r in channels.read_json("REPLY") if r["pv"] == pv and r["seq"] > before]
            record = {"pv": pv, "value": value, "request_id": rid, "before": before, "after": after}
            records.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)  # no wait for the CA libraries' threads at exit
