"""The PVs the Phoebus screens use beyond the contract: slot actions and history slots."""

from __future__ import annotations

import pytest
from conftest import wait_until

from scriptserver_ioc.client import ScriptServerClient


@pytest.fixture
def ioc(start_ioc):
    """An IOC without pre-flight dry runs (a job here fails on purpose)."""
    return start_ioc(["--preflight-workers", "0"])


def test_GIVEN_queue_slots_WHEN_actions_written_THEN_the_job_in_that_slot_moves_or_goes(client):
    a, b, c = client.add([{"call": f"set_ei({e})"} for e in (11, 12, 13)])
    assert client.put("QUEUE:2:ACTION", 1)["ok"]  # UP: b before a
    assert [j["id"] for j in client.queue()] == [b, a, c]
    assert client.get("QUEUE:2:ACTION") == "NONE"  # reads back idle once processed
    assert client.put("QUEUE:1:ACTION", "DOWN")["ok"]
    assert [j["id"] for j in client.queue()] == [a, b, c]
    assert client.put("QUEUE:3:ACTION", 3)["ok"]  # TOP
    assert [j["id"] for j in client.queue()] == [c, a, b]
    reply = client.put("QUEUE:2:ACTION", 4)  # REMOVE
    assert reply["ok"] and reply["message"] == f"removed job {a}"
    assert [j["id"] for j in client.queue()] == [c, b]
    before = client.queue()
    empty = client.put("QUEUE:5:ACTION", 4)
    assert not empty["ok"] and "slot 5 is empty" in empty["message"]
    for bad in (0, 9):
        assert not client.put("QUEUE:1:ACTION", bad)["ok"]
    assert client.queue() == before


def test_GIVEN_finished_jobs_THEN_history_slots_show_newest_first_with_errors(client):
    c = ScriptServerClient(client.prefix)
    assert c.get("HISTORY:1:ID") == 0 and c.get("HISTORY:1:STATE") == "NONE"
    c.set_on_error("CONTINUE")
    bad, good = c.add([{"script": "x = 1\n1 / 0\n"}, {"script": "print('fine')"}])
    c.release()
    c.wait_for_job(good, timeout=30)
    wait_until(lambda: c.get("HISTORY:1:ID") == good)
    assert c.get("HISTORY:1:STATE") == "DONE" and c.get("HISTORY:1:ERROR") == ""
    assert c.get("HISTORY:2:ID") == bad and c.get("HISTORY:2:STATE") == "FAILED"
    assert c.get("HISTORY:2:ERROR").startswith("ZeroDivisionError line 2")
    assert c.get("HISTORY:2:NAME") == "script: x = 1"
    assert c.get("HISTORY:3:ID") == 0
