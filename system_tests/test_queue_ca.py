"""Every queue operation of the contract over Channel Access, with pyepics and caproto."""

from __future__ import annotations

import binascii
import json
import re
import zlib

import pytest
from conftest import CaprotoClient, settle_preflights

from scriptserver_ioc.client.channels import decode_text
from scriptserver_ioc.client.client import ScriptServerClient
from scriptserver_ioc.contract import limits
from scriptserver_ioc.ioc.encoding import zhex


def names(client):
    return [job["name"] for job in client.queue()]


def ids(client):
    return [job["id"] for job in client.queue()]


def test_GIVEN_held_queue_WHEN_call_text_added_THEN_job_queued_with_bound_args(client):
    (job_id,) = client.add("set_ei(25)")
    (job,) = client.queue()
    assert job["id"] == job_id
    assert job["kind"] == "command"
    assert job["command"] == "set_ei"
    assert job["args"]["energy"] == 25.0
    assert job["state"] == "QUEUED"
    assert client.get("QUEUE:COUNT") == 1
    assert client.get("QUEUE:1:ID") == job_id
    assert client.get("QUEUE:2:ID") == 0
    assert client.get_json("STATUS")["queue_count"] == 1


def test_GIVEN_specs_WHEN_added_in_every_form_THEN_all_queued_in_order(client, ioc):
    scripts = ioc.data_dir / "scripts" / "scans"
    scripts.mkdir(parents=True)
    (scripts / "overnight.py").write_text("print('overnight')\n")
    client.add({"command": "set_ei", "args": {"energy": 10}, "request_id": "r1"})
    client.add({"call": "set_ei(energy=11)", "name": "eleven"})
    client.add({"script": "x = 1\nprint(x)\n", "tags": {"group": "g", "index": 0, "count": 1}})
    client.add({"file": "scans/overnight.py", "blackbox": True})
    queue = client.queue()
    assert [j["kind"] for j in queue] == ["command", "command", "script", "file"]
    assert queue[0]["request_id"] == "r1"
    assert queue[1]["name"] == "eleven"
    assert queue[2]["tags"] == {"group": "g", "index": 0, "count": 1}
    assert queue[3]["blackbox"] is True and queue[3]["file"] == "scans/overnight.py"
    assert client.get_json("STATUS")["groups"]["g"]["queued"] == 1


def test_GIVEN_jobs_WHEN_batch_added_at_position_THEN_inserted_atomically_there(client):
    first, last = client.add("set_ei(11)")[0], client.add("set_ei(12)")[0]
    batch = [
        {"call": f"set_ei({e + 10})", "position": 1} if e == 7 else {"call": f"set_ei({e + 10})"}
        for e in (7, 8, 9)
    ]
    new = client.add(batch)
    assert len(new) == 3
    assert ids(client) == [first, *new, last]


def test_GIVEN_batch_with_one_bad_item_WHEN_added_THEN_nothing_queued(client):
    client.add("set_ei(11)")
    settle_preflights(client)
    before = client.get_text("QUEUE")
    reply = client.put("QUEUE:ADD", [{"call": "set_ei(12)"}, {"call": "set_ei('fast')"}])
    assert not reply["ok"]
    assert "batch item 1" in reply["message"] and "energy" in reply["message"]
    assert client.get_text("QUEUE") == before


def test_GIVEN_queue_WHEN_moved_in_every_form_THEN_order_follows(client):
    a, b, c, d = (client.add(f"set_ei({e + 10})")[0] for e in (1, 2, 3, 4))
    client.put("QUEUE:MOVE", {"id": d, "to": 0})
    assert ids(client) == [d, a, b, c]
    client.put("QUEUE:MOVE", {"id": d, "to": "bottom"})
    assert ids(client) == [a, b, c, d]
    client.put("QUEUE:MOVE", {"id": a, "before": d})
    assert ids(client) == [b, c, a, d]
    client.put("QUEUE:MOVE", {"id": b, "after": a})
    assert ids(client) == [c, a, b, d]
    client.put("QUEUE:MOVE", {"id": d, "by": -2})
    assert ids(client) == [c, d, a, b]
    client.put("QUEUE:MOVE", {"id": c, "by": 99})
    assert ids(client) == [d, a, b, c]
    client.put("QUEUE:MOVE", {"id": a, "to": "top"})
    assert ids(client) == [a, d, b, c]
    reply = client.put("QUEUE:MOVE", {"order": [c, b, 999999]})
    assert reply["ok"]
    assert ids(client) == [c, b, a, d]


def test_GIVEN_queued_job_WHEN_updated_THEN_revalidated_and_changed(client):
    (job_id,) = client.add("set_ei(25)")
    reply = client.put("QUEUE:UPDATE", {"id": job_id, "args": {"energy": 30}})
    assert reply["ok"], reply
    assert client.queue()[0]["args"]["energy"] == 30.0
    settle_preflights(client)
    before = client.get_text("QUEUE")
    reply = client.put("QUEUE:UPDATE", {"id": job_id, "args": {"energy": "hot"}})
    assert not reply["ok"] and "energy" in reply["message"]
    assert client.get_text("QUEUE") == before
    reply = client.put("QUEUE:UPDATE", {"id": job_id, "script": "print('now a script')"})
    assert reply["ok"]
    (job,) = client.queue()
    assert job["kind"] == "script" and job["id"] == job_id and job["command"] is None


def test_GIVEN_queued_job_WHEN_repeated_THEN_copies_follow_it(client):
    a, b = client.add("set_ei(11)")[0], client.add("set_ei(12)")[0]
    reply = client.put("QUEUE:REPEAT", {"id": a, "times": 2})
    assert reply["ok"]
    copies = reply["job_ids"]
    assert ids(client) == [a, *copies, b]
    assert names(client)[:3] == [names(client)[0]] * 3
    reply = client.put("QUEUE:REPEAT", str(b))
    assert ids(client)[-2:] == [b, reply["job_ids"][0]]


def test_GIVEN_skipped_job_WHEN_rerun_edited_THEN_new_job_links_to_it(client):
    (job_id,) = client.add("set_ei(25)")
    assert client.put("QUEUE:SKIP", str(job_id))["ok"]
    assert client.queue() == []
    history = client.get_json("HISTORY")
    assert history[0]["id"] == job_id and history[0]["state"] == "SKIPPED"
    assert client.get("LAST:ID") == job_id
    assert client.get("LAST:STATE") == 3  # SKIPPED
    reply = client.put("QUEUE:RERUN", {"id": job_id, "args": {"energy": 12}})
    assert reply["ok"], reply
    (job,) = client.queue()
    assert job["rerun_of"] == job_id and job["args"]["energy"] == 12.0
    assert job["id"] not in (job_id,)


def test_GIVEN_jobs_WHEN_removed_and_cleared_THEN_gone_without_history(client):
    a, b, c = (client.add(f"set_ei({e + 10})")[0] for e in (1, 2, 3))
    assert client.put("QUEUE:REMOVE", str(a))["ok"]
    assert client.put("QUEUE:REMOVE", json.dumps([b]))["ok"]
    assert ids(client) == [c]
    client.add("set_ei(14)")
    assert client.put("QUEUE:CLEAR", 1)["ok"]
    assert client.queue() == [] and client.get("QUEUE:COUNT") == 0
    client.add("set_ei(15)")
    assert client.put("QUEUE:REMOVE", "all")["ok"]
    assert client.queue() == []
    assert client.get_json("HISTORY") == []


def test_GIVEN_settings_WHEN_hold_and_on_error_written_by_name_THEN_read_back(client):
    assert client.get("QUEUE:HOLD") == 1
    client.pv("QUEUE:ON_ERROR").put("CONTINUE", wait=True)
    assert client.get("QUEUE:ON_ERROR") == 1
    assert client.get_json("STATUS")["on_error"] == "CONTINUE"
    client.pv("QUEUE:HOLD").put("RUN", wait=True)
    assert client.get("QUEUE:HOLD") == 0
    assert client.get_json("STATUS")["hold"] is False


def test_GIVEN_queue_WHEN_edited_THEN_summary_follows_the_records_compactly(client):
    client.add(["set_ei(25)", {"script": "print(1)", "name": "one"}, "set_ei(30)"])
    (first, script, last) = client.queue()
    client.put("QUEUE:MOVE", {"id": last["id"], "to": 0})
    client.put("QUEUE:UPDATE", {"id": first["id"], "args": {"energy": 40}})

    summary = client.get_json("QUEUE:SUMMARY")
    records = client.queue()
    assert summary == [{k: job[k] for k in ("id", "name", "kind", "estimate")} for job in records]
    assert [job["id"] for job in summary] == [last["id"], first["id"], script["id"]]
    assert "40" in summary[1]["name"]
    assert len(client.get_text("QUEUE:SUMMARY")) * 3 < len(client.get_text("QUEUE"))
    client.put("QUEUE:CLEAR", 1)
    assert client.get_json("QUEUE:SUMMARY") == []


def test_GIVEN_zhex_twins_WHEN_read_THEN_same_json_as_plain(client):
    client.add({"script": "print('µ€ unicode')"})
    for name in ("QUEUE", "QUEUE:SUMMARY", "STATUS", "COMMANDS", "HISTORY", "REPLY", "CURRENT"):
        plain = client.get_text(name)
        packed = client.get_text(f"{name}:ZHEX")
        unpacked = zlib.decompress(binascii.unhexlify(packed)).decode("utf-8")
        if name == "STATUS":  # its server_time moves on every second
            plain, unpacked = (re.sub(r'"server_time":"[^"]*"', "", t) for t in (plain, unpacked))
        assert unpacked == plain
    assert client.queue()[0]["script"] == "print('µ€ unicode')"


def test_GIVEN_zhex_write_WHEN_added_THEN_decoded_like_plain(client):
    spec = json.dumps({"script": "print('zhex')", "request_id": "z1"})
    client.put("QUEUE:ADD", zhex(spec).decode("ascii"))
    (job,) = client.queue()
    assert job["script"] == "print('zhex')" and job["request_id"] == "z1"


def test_GIVEN_caproto_client_WHEN_queue_edited_THEN_same_results(caproto_client):
    c = caproto_client
    c.write_text("QUEUE:ADD", "set_ei(13)")
    c.write_text("QUEUE:ADD", json.dumps([{"call": "set_ei(14)"}, {"call": "set_ei(15)"}]))
    queue = c.get_json("QUEUE")
    assert [j["args"]["energy"] for j in queue] == [13.0, 14.0, 15.0]
    first, second, third = (j["id"] for j in queue)
    c.write_text("QUEUE:MOVE", json.dumps({"id": third, "to": 0}))
    c.write_text("QUEUE:REMOVE", str(second))
    c.write_text("QUEUE:ADD", zhex(json.dumps({"call": "set_ei(16)"})).decode())
    assert [j["args"]["energy"] for j in c.get_json("QUEUE")] == [15.0, 13.0, 16.0]
    assert c.get("QUEUE:COUNT") == 3
    c.write_text("QUEUE:SKIP", str(first))
    assert c.get_json("HISTORY")[0]["state"] == "SKIPPED"
    c.write_text("QUEUE:RERUN", json.dumps({"id": first, "position": 0}))
    rerun = c.get_json("QUEUE")[0]
    assert rerun["rerun_of"] == first and rerun["args"]["energy"] == 13.0
    c.write_text("QUEUE:UPDATE", json.dumps({"id": rerun["id"], "args": {"energy": 40}}))
    c.write_text("QUEUE:REPEAT", json.dumps({"id": rerun["id"], "times": 2}))
    assert [j["args"]["energy"] for j in c.get_json("QUEUE")][:3] == [40.0] * 3
    c.write("QUEUE:ON_ERROR", 1)
    assert c.get_json("STATUS")["on_error"] == "CONTINUE"
    c.write("QUEUE:CLEAR", 1)
    assert c.get("QUEUE:COUNT") == 0
    assert c.last_reply("QUEUE:CLEAR")["ok"]


@pytest.mark.parametrize("kill", [False, True], ids=["clean-stop", "sigkill"])
def test_GIVEN_edited_queue_WHEN_ioc_restarted_THEN_everything_as_before(start_ioc, kill):
    from scriptserver_ioc.client.client import ScriptServerClient

    ioc = start_ioc()
    client = ScriptServerClient(ioc.prefix)
    client.put("QUEUE:HOLD", 1)
    client.pv("QUEUE:ON_ERROR").put(1, wait=True)
    a, b, c = (client.add(f"set_ei({e + 10})")[0] for e in (1, 2, 3))
    client.add({"script": "print('µ')", "tags": {"group": "t"}, "name": "s", "request_id": "q"})
    client.put("QUEUE:MOVE", {"id": c, "to": 0})
    client.put("QUEUE:SKIP", str(b))
    settle_preflights(client)
    queue_before, history_before = client.queue(), client.get_json("HISTORY")
    ioc.stop(kill=kill)
    ioc.start(new_prefix=True)
    client = ScriptServerClient(ioc.prefix)
    assert client.queue() == queue_before
    assert client.get_json("HISTORY") == history_before
    assert client.get("QUEUE:HOLD") == 1 and client.get("QUEUE:ON_ERROR") == 1
    (new_id,) = client.add("set_ei(19)")
    assert new_id > max(j["id"] for j in queue_before + history_before)


def test_GIVEN_queue_at_its_byte_bound_WHEN_read_whole_THEN_every_client_gets_all_of_it(
    start_ioc, caproto_context
):
    """The largest queue accepted fits what the server sends (its own array bytes, 10 MB)."""
    ioc = start_ioc(["--preflight-workers", "0"])
    client = ScriptServerClient(ioc.prefix, timeout=30)
    client.put("QUEUE:HOLD", 1)
    script = "s = '" + "a" * 250_000 + "'\n"
    for _ in range(limits.MAX_QUEUE_JSON_BYTES // len(script) + 1):
        reply = client.put("QUEUE:ADD", json.dumps({"script": script}))
        if not reply["ok"]:
            break
    assert "MAX_QUEUE_JSON_BYTES" in reply["message"]
    text = client.get_text("QUEUE")
    assert len(text) > limits.MAX_QUEUE_JSON_BYTES - len(script)
    queue = json.loads(text)
    assert len(queue) == client.get("QUEUE:COUNT") and {j["script"] for j in queue} == {script}
    pv = client.pv("QUEUE")  # a client that asks for the PV's whole element count
    whole = pv.get(count=pv.nelm, use_monitor=False, as_numpy=True, timeout=30)
    assert whole is not None and decode_text(whole) == text
    other = CaprotoClient(caproto_context, ioc.prefix)
    assert other.get_text("QUEUE") == text
    packed = other.get_text("QUEUE:ZHEX")
    assert zlib.decompress(binascii.unhexlify(packed)).decode() == text
