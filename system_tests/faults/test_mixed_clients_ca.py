"""8 client processes x mixed control writes, checked against a serial replay (issue #10).

Eight real client processes (four pyepics, four caproto; `mixed_client.py`) each make a
seeded random mix of adds (single, batch, some refused), removes, moves, updates, repeats,
re-runs, skips, hold and on-error changes, clears and validations, plus pauses and resumes
of the running job, all with put-completion and request ids where the PV takes them. A
job that runs throughout keeps every queued job queued, so nothing but the writes changes
the queue. Then:

- exactly one REPLY per write: the replies seen (a monitor here, and each client's read
  after each write) are contiguous in seq, as many as the writes, one per request id;
- the writes, replayed one at a time in REPLY seq order (the order the server decided
  them) against a fresh IOC, are decided the same way (accepted or refused, same job ids)
  and leave the same queue, history, settings and stored job rows: every accepted write
  and every refused one with a request id (the value of other refused writes is not
  known from their reply; pauses and resumes change none of these and are not replayed);
- no acknowledged add is lost: each new job id is queued, in history, or in the reply of
  an accepted remove or clear;
- the heartbeat went on throughout.

`./run_tests.sh` runs 8 x 40 writes, `./run_tests.sh --long` 8 x 500.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from campaign import Probe, _essence, report, size
from conftest import wait_until

CLIENT = Path(__file__).with_name("mixed_client.py")
LIBRARIES = ["pyepics", "caproto"] * 4
SEED = 20261210
BLOCKER = "import time\nwhile True:\n    time.sleep(0.02)\n"
NOT_REPLAYED = {"PAUSE", "RESUME"}  # they change no queue, history or setting
KEPT_CHANGING = "kept changing while the write was checked"  # a refusal only concurrency gives


def test_GIVEN_8_clients_mixed_writes_WHEN_replayed_serially_THEN_same_queue_history_settings(
    start_ioc, caproto_context, tmp_path
):
    ops = size(40, 500)
    ioc = start_ioc()
    probe = Probe(caproto_context, ioc.prefix)
    blocker = _run_blocker(probe)
    seen: dict[int, dict] = {}
    beats: list[float] = []
    subscriptions = _watch(probe, seen, beats)
    first_seq = probe.last_seq()
    start = tmp_path / "start"
    clients = [
        _spawn(ioc, library, SEED + n, ops, blocker, start, tmp_path / f"client{n}.jsonl")
        for n, library in enumerate(LIBRARIES)
    ]
    for client in clients:
        assert client.stdout.readline().strip() == "ready", _failure(client)
    began = time.monotonic()
    start.touch()
    for client in clients:
        client.wait(size(120, 1200))
        assert client.returncode == 0, _failure(client)
    ended = time.monotonic()
    took = ended - began
    final = _state(probe)
    for entry in probe.replies():
        seen[entry["seq"]] = entry
    alive = probe.heartbeat_alive()
    for sub, _ in subscriptions:
        sub.clear()
    ioc.stop()
    stored = _stored(ioc.data_dir, blocker)
    records = [
        json.loads(line)
        for n in range(len(LIBRARIES))
        for line in (tmp_path / f"client{n}.jsonl").read_text().splitlines()
    ]
    for record in records:
        for entry in record["after"]:
            seen[entry["seq"]] = entry

    # exactly one REPLY per write
    assert len(records) == ops * len(LIBRARIES)
    last_seq = max(seen)
    missing = sorted(set(range(first_seq + 1, last_seq + 1)) - set(seen))
    assert not missing, f"replies never seen: {missing[:20]}"
    replies = [seen[s] for s in range(first_seq + 1, last_seq + 1)]
    assert len(replies) == len(records), (len(replies), len(records))
    by_rid = {r["request_id"]: r for r in records if r["request_id"]}
    rid_replies = [e["request_id"] for e in replies if e["request_id"]]
    assert sorted(rid_replies) == sorted(by_rid), "a request id without exactly one reply"
    for pv in {r["pv"] for r in records if not r["request_id"]}:
        writes = sum(1 for r in records if r["pv"] == pv)
        assert sum(1 for e in replies if e["pv"] == pv) == writes, pv

    # no acknowledged add lost
    accepted = [e for e in replies if e["ok"]]
    added = {i for e in accepted if e["pv"] in _ADDING for i in e["job_ids"]}
    removed = {i for e in accepted if e["pv"] in _REMOVING for i in e["job_ids"]}
    lost = sorted(added - set(stored["jobs"]) - removed)
    assert not lost, f"acknowledged adds lost: {lost}"
    skipped = {i for e in accepted if e["pv"] == "QUEUE:SKIP" for i in e["job_ids"]}
    assert {i for i, state in stored["jobs"].items() if state == "SKIPPED"} == skipped
    during = [t for t in beats if began < t < ended]
    beat_gap = max(_gaps([began, *during, ended]))  # reported below, not asserted: load
    assert alive and during, "the heartbeat stopped while the clients wrote"

    # the serial replay
    replay_ioc = start_ioc()
    replay = Probe(caproto_context, replay_ioc.prefix)
    assert _run_blocker(replay) == blocker
    differences = []
    to_replay = [e for e in replies if _replayable(e)]
    for entry in to_replay:
        value = _value(entry, by_rid)
        seq = replay.last_seq()
        replay.pv(entry["pv"]).write(
            value.encode() + b"\0" if isinstance(value, str) else [value], wait=True, timeout=30
        )
        (again,) = replay.replies_after(seq, wait_for=1)
        if (again["ok"], again["job_ids"]) != (entry["ok"], entry["job_ids"]):
            differences.append((entry, value, again))
    assert not differences, f"{len(differences)} replayed writes differ, first: {differences[0]}"
    replayed = _state(replay)
    assert replayed == final
    replay_ioc.stop()
    assert _stored(replay_ioc.data_dir, blocker) == stored  # every job row, all history
    report(
        "mixed clients",
        clients=len(LIBRARIES),
        writes=len(records),
        accepted=len(accepted),
        refused=len(replies) - len(accepted),
        replayed=len(to_replay),
        refused_as_kept_changing=sum(1 for e in replies if KEPT_CHANGING in e["message"]),
        accepted_by_pv=" ".join(
            f"{pv.split(':')[-1]}:{sum(1 for e in accepted if e['pv'] == pv)}/"
            f"{sum(1 for e in replies if e['pv'] == pv)}"
            for pv in sorted({e["pv"] for e in replies})
        ),
        queued_at_end=len(final["queue"]),
        writes_per_s=round(len(records) / took),
        heartbeats=len([t for t in beats if began < t < ended]),
        heartbeat_max_gap_s=round(beat_gap, 1),
    )


_ADDING = ("QUEUE:ADD", "QUEUE:REPEAT", "QUEUE:RERUN")
_REMOVING = ("QUEUE:REMOVE", "QUEUE:CLEAR")


def _replayable(entry: dict) -> bool:
    """Every accepted write, and every refused one whose value is known (a request id),
    but pauses and resumes, and refusals that only concurrent writes can cause."""
    if entry["pv"] in NOT_REPLAYED or KEPT_CHANGING in entry["message"]:
        return False
    return entry["ok"] or entry["request_id"] is not None


def _value(entry: dict, by_rid: dict):
    """What to write to make the decision of `entry` again."""
    pv, ids, message = entry["pv"], entry["job_ids"], entry["message"]
    if entry["request_id"]:
        return by_rid[entry["request_id"]]["value"]
    if pv == "QUEUE:REMOVE":
        return json.dumps(ids)
    if pv == "QUEUE:SKIP":
        return str(ids[0])
    if pv == "QUEUE:CLEAR":
        return 1
    if pv == "QUEUE:HOLD":
        return {"queue held": 1, "queue running": 0}[message]
    if pv == "QUEUE:ON_ERROR":
        return 0 if message.endswith("hold") else 1
    raise AssertionError(f"no replay for {entry}")


def _run_blocker(probe: Probe) -> int:
    """Start a job that runs until the test ends; its id."""
    seq = probe.last_seq()
    spec = json.dumps({"script": BLOCKER, "name": "blocker"})
    probe.pv("QUEUE:ADD").write(spec.encode() + b"\0", wait=True, timeout=30)
    (reply,) = probe.replies_after(seq, wait_for=1)
    (job_id,) = reply["job_ids"]
    probe.pv("QUEUE:HOLD").write([0], wait=True, timeout=10)
    wait_until(lambda: probe.value("CURRENT:ID") == job_id, timeout=30)  # it started
    return job_id


def _state(probe: Probe) -> dict:
    return {
        "queue": [_essence(job) for job in probe.json("QUEUE")],
        "history": [(job["id"], job["state"]) for job in probe.json("HISTORY")],
        "hold": probe.value("QUEUE:HOLD"),
        "on_error": probe.value("QUEUE:ON_ERROR"),
    }


def _stored(data_dir: Path, blocker: int) -> dict:
    """Every job row's state (but the blocker's: pauses are not replayed), the finished
    ones in history order, and the settings."""
    with sqlite3.connect(data_dir / "scriptserver.sqlite") as conn:
        jobs = dict(conn.execute("SELECT id, state FROM jobs WHERE id != ?", (blocker,)))
        history = conn.execute(
            "SELECT id FROM jobs WHERE finished_seq IS NOT NULL ORDER BY finished_seq"
        ).fetchall()
        settings = dict(conn.execute("SELECT key, value FROM settings"))
    return {"jobs": jobs, "history": history, "settings": settings}


def _watch(probe: Probe, seen: dict, beats: list) -> list:
    """Collect every REPLY entry published, and when each heartbeat came.

    Returns the subscriptions with their callbacks, which must be kept referenced.
    """

    def on_reply(sub, response):
        text = bytes(response.data).split(b"\0", 1)[0].decode("ascii")
        for entry in json.loads(text):
            seen[entry["seq"]] = entry

    def on_beat(sub, response):
        beats.append(time.monotonic())

    subscriptions = []
    for name, callback in (("REPLY", on_reply), ("SERVER:HEARTBEAT", on_beat)):
        sub = probe.pv(name).subscribe()
        sub.add_callback(callback)
        subscriptions.append((sub, callback))  # caproto keeps only weak references to it
    return subscriptions


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


def _spawn(ioc, library, seed, ops, blocker, start, out) -> subprocess.Popen:
    env = {**os.environ, "EPICS_CA_ADDR_LIST": f"127.0.0.1:{ioc.port}"}
    args = [library, ioc.prefix, seed, ops, blocker, start, out]
    return subprocess.Popen(
        [sys.executable, str(CLIENT), *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _failure(client: subprocess.Popen) -> str:
    if client.poll() is None:
        client.kill()
    return f"client failed ({client.poll()}): {client.stderr.read()[-3000:]}"
