"""VALIDATE with dry runs, and estimates on queued jobs, over Channel Access."""

from __future__ import annotations

import pytest
from conftest import settle_preflights

from scriptserver_ioc.ioc.encoding import zhex

SCRIPT = """\
import time
set_temperature(temperature=300.0)
for i in range(3):
    time.sleep(600)
print("done")
"""


def test_GIVEN_script_WHEN_dry_run_requested_THEN_put_completes_with_timeline(client):
    client.put("VALIDATE", {"script": SCRIPT, "dry_run": True, "request_id": "dry-1"})
    result = client.get_json("VALIDATE:RESULT")
    assert result["request_id"] == "dry-1" and result["ok"] is True, result
    dry = result["dry_run"]
    assert dry["ok"] is True
    assert dry["estimate"] >= 1800.0  # three sleeps of 10 minutes, on the virtual clock
    assert any(step["line"] == 4 for step in dry["steps"])
    assert "done" in dry["output"]
    packed = client.get_text("VALIDATE:RESULT:ZHEX")
    assert packed == zhex(client.get_text("VALIDATE:RESULT")).decode()


def test_GIVEN_failing_script_WHEN_dry_run_THEN_error_with_line(client):
    client.put("VALIDATE", {"script": "x = 1\ny = x / 0\n", "dry_run": True})
    result = client.get_json("VALIDATE:RESULT")
    assert result["ok"] is False
    assert result["dry_run"]["error"]["line"] == 2
    assert any(e["line"] == 2 for e in result["errors"])


def test_GIVEN_commands_with_estimates_WHEN_queued_THEN_estimates_and_eta_published(client):
    client.add("set_temperature(300)")
    client.add({"script": "print('no estimate')"})
    queue = client.queue()
    assert queue[0]["estimate"] > 0 and queue[0]["estimate_source"] == "declared"
    assert queue[1]["estimate_source"] in ("none", "dry-run")  # "none" until its pre-flight
    settle_preflights(client)
    queue = client.queue()
    assert queue[0]["estimate_source"] == "declared"  # a declared estimate is kept
    assert queue[1]["estimate_source"] == "dry-run" and 0 <= queue[1]["estimate"] < 2
    eta = queue[0]["estimate"] + queue[1]["estimate"]
    assert abs(client.get("QUEUE:ETA") - eta) < 1e-6
    assert client.get("QUEUE:1:ESTIMATE") == queue[0]["estimate"]
    assert client.get("QUEUE:2:ESTIMATE") == queue[1]["estimate"]
    assert client.get("QUEUE:FINISH") == "-"  # held: nothing will start


def test_GIVEN_script_with_undefined_name_WHEN_added_THEN_warning_stored(client):
    client.add({"script": "print(undefined_thing)\n"})
    (job,) = client.queue()
    assert any("undefined_thing" in w for w in job["warnings"])


def test_GIVEN_finished_job_WHEN_same_job_queued_again_THEN_estimate_learned_from_history(client):
    script = {"script": "import time\ntime.sleep(0.5)\n"}
    (first,) = client.add(script)
    assert client.queue()[0]["estimate_source"] in ("none", "dry-run")
    client.put("QUEUE:HOLD", 0)
    client.wait_for(lambda: client.get("LAST:ID") == first, timeout=20)
    ran = client.get_json("HISTORY")[0]
    client.put("QUEUE:HOLD", 1)
    client.add(script)
    (job,) = client.queue()
    assert job["estimate_source"] == "history"
    assert job["estimate"] == pytest.approx(ran["elapsed"], abs=1e-3)  # what it took


def test_GIVEN_demo_queue_with_declared_estimates_WHEN_run_THEN_eta_their_sum_and_all_done(client):
    """QUEUE:ETA is the sum of the declared estimates; how close the real end comes to it is
    measured by `bench/bench_preflight.py` (a loaded machine stretches only the real end)."""
    ids = client.add(
        [
            {"call": "count(seconds=1.0)"},
            {"call": "set_ei(energy=30.0)"},
            {"call": "count(seconds=1.5, title='background')"},
        ]
    )
    settle_preflights(client)  # the queue waits for a verdict still under way
    eta = client.get("QUEUE:ETA")
    assert eta > 2.5 and eta == pytest.approx(sum(job["estimate"] for job in client.queue()))
    verdicts = [job["preflight"]["verdict"] for job in client.queue()]
    assert all(v in ("ok", "warnings") for v in verdicts), client.queue()
    client.put("QUEUE:HOLD", 0)
    try:
        client.wait_for(lambda: client.get("LAST:ID") == ids[-1], timeout=60)
    except Exception:
        raise AssertionError(
            (client.get_json("STATUS"), client.queue(), client.get_text("LOG"))
        ) from None
    assert [j["state"] for j in client.get_json("HISTORY")[:3]] == ["DONE"] * 3
