"""SIGKILL of the IOC mid-job and mid-burst of writes: nothing acknowledged is lost.

Each round a client thread adds jobs one at a time (each add is acknowledged by its REPLY)
while jobs run, and the IOC is killed at a random moment (the moment is the fault, not a
wait for anything). After the last restart the queue drains; then the store must hold every
acknowledged job in a terminal state, and each job that ran to the end must have its output
in its log. Job processes outlive the IOC (their own session) and are adopted on restart.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time

from campaign import Probe, report, size
from conftest import wait_until

SEED = 20261202
JOB = "import time\nprint('out-{tag}', flush=True)\ntime.sleep({pause})\nprint('end-{tag}')\n"


def test_GIVEN_ioc_killed_mid_job_and_mid_burst_WHEN_restarted_THEN_zero_loss(
    start_ioc, caproto_context
):
    rng = random.Random(SEED)
    ioc = start_ioc()
    acknowledged: dict[int, str] = {}
    kills = size(2, 30)
    for round_no in range(kills):
        probe = Probe(caproto_context, ioc.prefix)
        probe.pv("QUEUE:ON_ERROR").write([1], wait=True, timeout=10)
        probe.pv("QUEUE:HOLD").write([0], wait=True, timeout=10)
        stop = threading.Event()
        burst = threading.Thread(target=_burst, args=(probe, round_no, acknowledged, stop))
        burst.start()
        time.sleep(rng.uniform(0.4, 1.2))  # the fault: a kill at a random moment
        ioc.stop(kill=True)
        stop.set()
        burst.join(30)
        ioc.start(new_prefix=True)
    probe = Probe(caproto_context, ioc.prefix)
    probe.pv("QUEUE:HOLD").write([0], wait=True, timeout=10)  # an abort-on-recovery may hold

    def drained() -> bool:
        status = probe.json("STATUS")
        if status["hold"]:
            probe.pv("QUEUE:HOLD").write([0], wait=True, timeout=10)
        return status["queue_count"] == 0 and status["current_id"] is None

    wait_until(drained, timeout=120, interval=0.1, fail=False)  # what is left: said below
    ioc.stop()
    rows = _rows(ioc.data_dir / "scriptserver.sqlite")
    missing = sorted(set(acknowledged) - set(rows))
    unfinished = {
        i: rows[i]["state"]
        for i in acknowledged
        if i in rows and rows[i]["state"] in ("QUEUED", "RUNNING", "PAUSED")
    }
    done = [i for i in acknowledged if rows.get(i, {}).get("state") == "DONE"]
    no_output = [i for i in done if f"end-{acknowledged[i]}" not in _log(ioc, i)]
    states = {
        s: sum(1 for i in acknowledged if rows.get(i, {}).get("state") == s)
        for s in ("DONE", "FAILED", "ABORTED", "INTERRUPTED")
    }
    report(
        "kill loop",
        kills=kills,
        acknowledged=len(acknowledged),
        missing=len(missing),
        unfinished=len(unfinished),
        done_without_output=len(no_output),
        **states,
    )
    assert acknowledged, "no add was acknowledged"
    assert not missing, missing
    assert not unfinished, unfinished
    assert not no_output, no_output


def _burst(probe: Probe, round_no: int, acknowledged: dict, stop: threading.Event) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        tag = f"r{round_no}n{n}"
        rid = f"kill-{tag}"
        spec = {"script": JOB.format(tag=tag, pause=0.1), "request_id": rid}
        try:
            seq = probe.last_seq()
            probe.pv("QUEUE:ADD").write(json.dumps(spec).encode() + b"\0", wait=True, timeout=5)
            for reply in probe.replies_after(seq, wait_for=1, timeout=5):
                if reply["request_id"] == rid and reply["ok"]:
                    acknowledged[reply["job_ids"][0]] = tag
        except Exception:  # the IOC was killed under this write: not acknowledged
            return
        stop.wait(0.1)  # about ten adds a second, so that the queue can drain afterwards


def _rows(database) -> dict[int, dict]:
    with sqlite3.connect(database) as conn:
        return {i: json.loads(r) for i, r in conn.execute("SELECT id, record FROM jobs")}


def _log(ioc, job_id: int) -> str:
    logs = list((ioc.data_dir / "logs").glob(f"*{job_id}*.log"))
    return "".join(p.read_text(errors="replace") for p in logs)
