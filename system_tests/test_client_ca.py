"""`ScriptServerClient`: every method against a real IOC over Channel Access."""

from __future__ import annotations

import threading

import pytest
from conftest import wait_until

from scriptserver_ioc.client import ClientError, Refused, ScriptServerClient

LONG = "import scriptserver\nfor i in range(600):\n    scriptserver.sleep(0.05)\n"


def test_GIVEN_held_queue_WHEN_every_queue_method_used_THEN_queue_follows_and_replies_match(
    client,
):
    c = ScriptServerClient(client.prefix)
    first = c.add("set_ei(11)", name="first", tags={"group": "scan", "index": 1, "count": 2})
    assert first.reply.ok and first.reply.pv == "QUEUE:ADD" and first.reply.request_id
    assert first == first.reply.job_ids and len(first) == 1
    batch = c.add([{"call": "set_ei(12)"}, {"command": "set_ei", "args": {"energy": 13}}])
    assert len(batch) == 2 and batch.reply.message
    a, (b, d) = first[0], batch
    top = c.add({"script": "print('hi')"}, position=0)[0]
    assert [j["id"] for j in c.queue()] == [top, a, b, d]
    assert c.move(top, to="bottom").ok
    assert c.move(d, before=a).job_ids == [d]
    c.move(b, after=top)
    c.move(top, by=-10)
    assert [j["id"] for j in c.queue()] == [top, d, a, b]
    assert c.reorder([a, b]).message == "queue reordered"
    assert [j["id"] for j in c.queue()][:2] == [a, b]
    assert c.update(a, name="renamed", call="set_ei(20)").job_ids == [a]
    assert c.job(a)["name"] == "renamed" and c.job(a)["args"]["energy"] == 20.0
    copies = c.repeat(a, times=2).job_ids
    assert len(copies) == 2 and [j["id"] for j in c.queue()][1:3] == copies
    assert c.skip(b).job_ids == [b] and c.finished(b)["state"] == "SKIPPED"
    assert c.remove(copies[0]).ok and c.remove(copies[1:]).ok
    rerun = c.rerun(b, name="again")
    assert c.job(rerun.job_ids[0])["rerun_of"] == b
    assert c.remove("all").ok and c.queue() == []
    c.add("set_ei(14)")
    assert c.clear().ok and c.status()["queue_count"] == 0


def test_GIVEN_refused_write_THEN_Refused_carries_reply_and_check_false_returns_it(client):
    c = ScriptServerClient(client.prefix)
    with pytest.raises(Refused) as refused:
        c.add("set_ei(energy=1, bogus=2)")
    assert refused.value.reply.ok is False and "bogus" in refused.value.reply.message
    assert c.queue() == []
    reply = c.move(999, to=0, check=False)
    assert not reply.ok and "999" in reply.message and reply.request_id
    assert not c.skip(999, check=False).ok
    assert not c.remove(999, check=False).ok
    assert not c.update(999, name="x", check=False).ok
    assert not c.repeat(999, check=False).ok
    assert not c.rerun(999, check=False).ok
    with pytest.raises(ClientError, match="neither current"):
        c.job(999)
    with pytest.raises(ValueError, match="exactly one"):
        c.move(1, to=0, by=1)


def test_GIVEN_enum_pvs_WHEN_read_THEN_names_and_indexes_both_work(client):
    c = ScriptServerClient(client.prefix)
    assert c.get("QUEUE:HOLD") == "HOLD" and c.get("QUEUE:HOLD") == 1
    assert str(c.get("STATE")) == "IDLE" and c.state() == "IDLE"
    assert c.set_on_error("continue").ok and c.get("QUEUE:ON_ERROR") == "CONTINUE"
    assert c.set_on_error("HOLD").ok and c.get("QUEUE:ON_ERROR").name == "HOLD"
    with pytest.raises(ValueError, match="HOLD, CONTINUE"):
        c.set_on_error("sometimes")
    assert c.release().ok and c.get("QUEUE:HOLD") == "RUN"
    assert c.hold().message == "queue held"


def test_GIVEN_running_job_WHEN_paused_resumed_aborted_THEN_states_and_history_follow(client):
    c = ScriptServerClient(client.prefix)
    c.set_on_error("CONTINUE")
    job, after = c.add([{"script": LONG}, {"script": "print('after')"}])
    c.release()
    wait_until(lambda: c.state() == "RUNNING" and c.get("CURRENT:LINE") == 3)
    assert c.current()["id"] == job
    assert c.pause().ok
    wait_until(lambda: c.state() == "PAUSED")
    assert c.resume().ok
    wait_until(lambda: c.state() == "RUNNING")
    assert c.pause(now=True).ok
    wait_until(lambda: c.state() == "PAUSED")
    c.resume()
    assert c.abort().ok
    record = c.wait_for_job(job, timeout=30)
    assert record["state"] == "ABORTED" and c.history()[0]["id"] == job
    held = c.wait_until_idle(timeout=30)  # an abort holds the queue
    assert held["hold"] and held["queue_count"] == 1 and c.get("QUEUE:HOLD") == "HOLD"
    c.release()
    assert c.wait_for_job(after, timeout=30)["state"] == "DONE"
    assert c.wait_until_idle(timeout=30)["queue_count"] == 0
    killed, queued = c.add([{"script": LONG}, {"script": LONG}])
    wait_until(lambda: c.get("CURRENT:ID") == killed)
    c.abort(kill=True)
    assert c.wait_for_job(killed, timeout=30)["state"] == "ABORTED"
    c.release()
    wait_until(lambda: c.get("CURRENT:ID") == queued)
    assert c.stop().ok
    assert c.wait_for_job(queued, timeout=30)["state"] == "ABORTED"
    assert c.wait_until_idle(timeout=30)["queue_count"] == 0


def test_GIVEN_job_removed_WHEN_waited_for_THEN_clear_error(client):
    c = ScriptServerClient(client.prefix)
    (job,) = c.add("set_ei(25)")
    c.remove(job)
    with pytest.raises(ClientError, match="not queued, running or finished"):
        c.wait_for_job(job, timeout=10)


def test_GIVEN_catalogue_WHEN_commands_validated_and_reloaded_THEN_results_are_this_clients(
    client,
):
    c = ScriptServerClient(client.prefix)
    names = [entry["name"] for entry in c.commands()]
    assert "set_ei" in names and c.command("set_ei")["params"][0]["name"] == "energy"
    with pytest.raises(ClientError, match="no command"):
        c.command("no_such_thing")
    good = c.validate("set_ei(25)")
    assert good["ok"] is True and good["errors"] == []
    bad = c.validate({"script": "x = 1\nset_ei(energy='fast')\n"})
    assert bad["ok"] is False and bad["errors"][0]["line"] == 2
    dry = c.validate("set_ei(25)", dry_run=True)
    assert dry["dry_run"]["ok"] is True
    revision = c.get("COMMANDS:REVISION")
    assert c.reload_commands().ok and c.get("COMMANDS:REVISION") >= revision


def test_GIVEN_two_clients_WHEN_adding_at_once_THEN_each_gets_its_own_ids(client):
    """Both write QUEUE:ADD in a tight loop; each reply must name the job that client made."""
    results: dict[str, list[tuple[str, list[int]]]] = {"a": [], "b": []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def adder(who: str) -> None:
        try:
            c = ScriptServerClient(client.prefix)
            c.status()
            start.wait(10)
            for i in range(15):
                name = f"{who}-{i}"
                results[who].append((name, list(c.add("set_ei(10)", name=name))))
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=adder, args=(who,)) for who in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    names = {job["id"]: job["name"] for job in client.queue()}
    for made in results.values():
        for name, ids in made:
            assert len(ids) == 1 and names[ids[0]] == name
    assert len(names) == 30
