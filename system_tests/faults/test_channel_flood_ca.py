"""A flood on the real IOC's job-control channel (issue #10, defect 4): 200 idle peers
dripping bytes cost the IOC no thread each, are closed, and jobs still run.
"""

from __future__ import annotations

import json
import socket

import psutil
from campaign import Probe, report, size
from conftest import wait_until


def test_GIVEN_running_ioc_WHEN_channel_flooded_THEN_no_thread_each_and_jobs_still_run(
    ioc, caproto_context
):
    probe = Probe(caproto_context, ioc.prefix)
    address = json.loads((ioc.data_dir / "runtime" / "channel.json").read_text())
    server = psutil.Process(ioc.process.pid)
    threads_before = server.num_threads()
    peers = []
    for _ in range(size(200, 1000)):
        try:
            peers.append(socket.create_connection((address["host"], address["port"]), 5))
        except OSError:
            pass
    (job_id,) = _add(probe, {"script": "print('still served')"})  # during the flood
    most_threads, closed = threads_before, 0

    def all_closed() -> bool:
        nonlocal most_threads, closed
        closed = 0
        for peer in peers:
            try:
                peer.send(b" ")  # a drip: never a complete hello
            except OSError:
                closed += 1
        most_threads = max(most_threads, server.num_threads())
        return closed == len(peers)

    wait_until(all_closed, timeout=30, interval=0.2, fail=False)  # how many: asserted below
    wait_until(lambda: probe.value("LAST:ID") == job_id, timeout=60, fail=False)
    for peer in peers:
        peer.close()
    assert closed == len(peers), f"{len(peers) - closed} peers still connected after 30 s"
    # a running job adds a few threads of its own; a thread per peer would add hundreds
    assert most_threads <= threads_before + 8, (threads_before, most_threads)
    assert probe.value("LAST:ID") == job_id and probe.json("HISTORY")[0]["state"] == "DONE"
    report(
        "channel flood",
        peers=len(peers),
        threads_before=threads_before,
        most_threads=most_threads,
        all_closed=closed == len(peers),
    )


def _add(probe: Probe, spec: dict) -> list[int]:
    seq = probe.last_seq()
    probe.pv("QUEUE:ADD").write(json.dumps(spec).encode() + b"\0", wait=True, timeout=30)
    (reply,) = probe.replies_after(seq, wait_for=1)
    assert reply["ok"], reply
    return reply["job_ids"]
