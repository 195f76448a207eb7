"""A demo night queue: estimates and QUEUE:ETA before it runs, then every job done (real IOC).

The queue mixes runs that wait on beam (the demo DAE's `waitfor_uamps`), counts,
temperature steps, a chopper change and a script-definition row, as an ISIS night does.
It is scaled down by the beam model: the server is told the demo beam's current
(`--beam-current 7200`: 2 uA.h a second, the demo's accelerated beam), so the pre-flight
dry runs count each wait on beam as the beam model says. The server has run a few short
jobs before (as any server has), so the per-job overhead it learned is part of the
estimates.

What is asserted is what the estimates are made of (the beam waited, the learned
overhead, the learned beam current) and that QUEUE:ETA is their sum; how close they come
to the real end on this machine is measured, not asserted (`bench/bench_preflight.py`,
its night queue: the 5 % the issue asks of an estimate), as a loaded machine stretches
the real end and not the estimate.
"""

from __future__ import annotations

import pytest
from conftest import wait_until
from night_queue import DEMO_BEAM_CURRENT, NIGHT, WARM_UP


def run_held_queue(client, jobs, timeout=120.0):
    """Queue `jobs` held and wait for their verdicts; returns their ids."""
    client.put("QUEUE:HOLD", 1)
    ids = client.add(jobs)
    wait_until(lambda: all(job.get("preflight") for job in client.queue()), timeout=timeout)
    return ids


def finished(client, ids):
    done = {job["id"]: job for job in client.history() if job["id"] in ids}
    return len(done) == len(ids) and done


def test_GIVEN_demo_night_queue_WHEN_released_THEN_eta_is_the_estimates_and_all_done(
    start_ioc, tmp_path, monkeypatch
):
    from scriptserver_ioc.client.client import ScriptServerClient

    # the demo beamline of this test alone (the default file is shared by every server)
    monkeypatch.setenv("SCRIPTSERVER_DEMO_STATE", str(tmp_path / "beamline.json"))
    ioc = start_ioc(["--beam-current", DEMO_BEAM_CURRENT])
    client = ScriptServerClient(ioc.prefix, timeout=10)

    warm = run_held_queue(client, WARM_UP)
    client.put("QUEUE:HOLD", 0)
    wait_until(lambda: finished(client, warm), timeout=60)

    ids = run_held_queue(client, NIGHT)
    verdicts = {job["id"]: job["preflight"] for job in client.queue()}
    assert all(v["verdict"] in ("ok", "warnings") for v in verdicts.values()), verdicts
    assert all(v["overhead"] > 0 for v in verdicts.values()), verdicts  # learned from warm-up
    beam = verdicts[ids[0]]["beam"]
    assert beam["current"] == {"value": 7200.0, "source": "option"}
    assert 7 < beam["waited"]["uamps"] <= 8  # less what the run counted since it began

    queued = client.queue()
    total = sum(job["estimate"] for job in queued)
    wait_until(lambda: client.get("QUEUE:ETA") == pytest.approx(total))  # (published)
    client.put("QUEUE:HOLD", 0)
    wait_until(lambda: client.get("QUEUE:FINISH") != "-")  # released: a time of day
    done = wait_until(lambda: finished(client, ids), timeout=120, interval=0.05)
    assert {job["state"] for job in done.values()} == {"DONE"}, done
    assert [job["estimate_source"] for job in sorted(done.values(), key=lambda j: j["id"])] == [
        job["estimate_source"] for job in queued
    ]


def test_GIVEN_default_beam_model_WHEN_a_run_waited_on_the_demo_beam_THEN_next_estimates_learn_it(
    start_ioc, tmp_path, monkeypatch
):
    # The server assumes the ISIS default 40 uA; the demo beam gives 7200 uA (2 uA.h a
    # second). After one real run, a new script (never run before) waiting for another
    # amount is estimated at the rate the instrument really delivered.
    from scriptserver_ioc.client.client import ScriptServerClient

    monkeypatch.setenv("SCRIPTSERVER_DEMO_STATE", str(tmp_path / "beamline.json"))
    ioc = start_ioc()
    client = ScriptServerClient(ioc.prefix, timeout=10)
    warm = run_held_queue(client, WARM_UP)  # the per-job overhead, learned first
    client.put("QUEUE:HOLD", 0)
    wait_until(lambda: finished(client, warm), timeout=60)

    (first,) = run_held_queue(client, [{"script": "begin_run()\nwaitfor_uamps(4)\nend_run()\n"}])
    record = client.queue()[0]["preflight"]
    assert record["beam"]["current"] == {"value": 40.0, "source": "ISIS default"}
    assert record["estimate"] > 300  # 4 uA.h at 40 uA: 6 minutes
    client.put("QUEUE:HOLD", 0)
    wait_until(lambda: finished(client, [first]), timeout=60)

    script = "begin_run()\nwaitfor_uamps(6)\nend_run()\n"  # another amount: no history
    (second,) = run_held_queue(client, [{"script": script}])
    record = client.queue()[0]["preflight"]
    current = record["beam"]["current"]
    assert current["source"] == "learned from 1 run"
    assert 3600 < current["value"] < 14400, current  # the demo's 7200 uA, within 2 x
    assert 2 < record["estimate"] < 6  # 6 uA.h at about 2 uA.h a second
    client.put("QUEUE:HOLD", 0)
    done = wait_until(lambda: finished(client, [second]), timeout=60)
    assert done[second]["state"] == "DONE", done
