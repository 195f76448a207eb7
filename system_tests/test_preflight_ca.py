"""Pre-flight over Channel Access: verdicts on queued jobs and QUEUE:ON_INVALID."""

from __future__ import annotations

from conftest import wait_until

GOOD = "import time\ntime.sleep(0.2)\nprint('good')\n"
# In the manner of InstrumentScripts' loops: a variable misspelt on the line that uses it.
BROKEN = "temperatures = [10, 20]\nfor t in temperaturs:\n    print(t)\n"
SECOND = "print('second good job')\n"


def by_id(jobs, job_id):
    return next(job for job in jobs if job["id"] == job_id)


def verdicts(client):
    return {job["id"]: (job.get("preflight") or {}).get("verdict") for job in client.queue()}


def history_job(client, job_id):
    return next((job for job in client.get_json("HISTORY") if job["id"] == job_id), None)


def test_GIVEN_good_broken_good_WHEN_released_THEN_first_runs_and_queue_holds_before_broken(
    client,
):
    first, broken, last = client.add([{"script": GOOD}, {"script": BROKEN}, {"script": SECOND}])
    wait_until(lambda: all(verdicts(client).values()), timeout=60)
    queued = client.queue()
    assert by_id(queued, first)["preflight"]["verdict"] == "ok"
    record = by_id(queued, broken)["preflight"]
    assert record["verdict"] == "fails" and record["line"] == 2
    assert "temperaturs" in record["message"]
    assert by_id(queued, last)["preflight"]["verdict"] == "ok"
    assert client.get("QUEUE:ON_INVALID") == 0  # HOLD by default

    client.put("QUEUE:HOLD", 0)

    wait_until(lambda: (history_job(client, first) or {}).get("state") == "DONE", timeout=30)
    wait_until(lambda: client.get_json("STATUS")["hold"], timeout=10)
    status = client.get_json("STATUS")
    assert status["current_id"] is None
    assert [job["id"] for job in client.queue()] == [broken, last]
    assert f"job {broken}" in status["hold_reason"] and "line 2" in status["hold_reason"]
    assert "temperaturs" in status["hold_reason"]
    assert f"queue held before job {broken}" in client.get_text("LOG")
    assert history_job(client, first)["preflight"]["verdict"] == "ok"
    assert client.get("QUEUE:FINISH") == "-"


def test_GIVEN_idle_queue_WHEN_quick_job_and_broken_one_added_THEN_broken_one_never_starts(
    client, tmp_path
):
    flag = tmp_path / "go"
    # the first job ends once the broken one's verdict is in: a check never delays a job,
    # so the queue holds only before a job whose verdict is already `fails`
    waits = f"import os, time\nwhile not os.path.exists({str(flag)!r}):\n    time.sleep(0.05)\n"
    client.put("QUEUE:HOLD", 0)
    first, broken = client.add([{"script": waits}, {"script": BROKEN}])
    wait_until(lambda: verdicts(client).get(broken), timeout=60)
    flag.write_text("go")
    wait_until(lambda: client.get_json("STATUS")["hold"], timeout=60)
    assert (history_job(client, first) or {}).get("state") == "DONE"
    assert history_job(client, broken) is None
    assert [job["id"] for job in client.queue()] == [broken]
    assert client.queue()[0]["preflight"]["verdict"] == "fails"


def test_GIVEN_held_before_broken_job_WHEN_job_fixed_THEN_new_verdict_and_queue_goes_on(client):
    (broken,) = client.add({"script": BROKEN})
    wait_until(lambda: verdicts(client).get(broken), timeout=60)
    client.put("QUEUE:HOLD", 0)
    wait_until(lambda: client.get_json("STATUS")["hold"], timeout=60)
    fixed = BROKEN.replace("temperaturs", "temperatures")
    reply = client.put("QUEUE:UPDATE", {"id": broken, "script": fixed})
    assert reply["ok"], reply["message"]
    wait_until(lambda: verdicts(client).get(broken), timeout=60)
    assert verdicts(client)[broken] == "ok", client.queue()
    client.put("QUEUE:HOLD", 0)
    wait_until(lambda: (history_job(client, broken) or {}).get("state") == "DONE", timeout=30)


def test_GIVEN_on_invalid_run_WHEN_broken_job_turn_THEN_it_runs_and_fails(client):
    reply = client.put("QUEUE:ON_INVALID", 1)
    assert reply["ok"] and client.get("QUEUE:ON_INVALID") == 1
    assert client.get_json("STATUS")["on_invalid"] == "RUN"
    (broken,) = client.add({"script": BROKEN})
    wait_until(lambda: verdicts(client).get(broken) == "fails", timeout=60)
    client.put("QUEUE:HOLD", 0)
    wait_until(lambda: (history_job(client, broken) or {}).get("state") == "FAILED", timeout=30)
    assert history_job(client, broken)["error"]["line"] == 2


def test_GIVEN_bad_values_WHEN_written_to_on_invalid_THEN_rejected_and_unchanged(client):
    for value in (5, -1):
        reply = client.put("QUEUE:ON_INVALID", value)
        assert reply is not None and not reply["ok"]
    assert client.get("QUEUE:ON_INVALID") == 0


def test_GIVEN_script_with_literal_call_out_of_range_WHEN_queued_THEN_refused_naming_it(client):
    # set_ei's validate_set_ei runs in the checker process, off the CA thread (a deferred
    # write); the refusal names the call, its line and the parameter's value.
    script = "set_ei(25)\nfor run in range(2):\n    set_ei(energy=2000)\n"
    reply = client.put("QUEUE:ADD", {"script": script})
    assert reply is not None and not reply["ok"]
    assert "line 3" in reply["message"] and "set_ei(energy=2000)" in reply["message"]
    assert "energy 2000 meV is out of range" in reply["message"]
    assert client.get("QUEUE:COUNT") == 0
    reply = client.put("QUEUE:ADD", {"script": script.replace("2000", "80")})
    assert reply["ok"], reply["message"]
    assert client.get("QUEUE:COUNT") == 1
