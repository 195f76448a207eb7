"""Unit tests of the core without Channel Access: queue order, specs, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from core_factory import make_core

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.core.jobs import Job
from scriptserver_ioc.core.queue import JobQueue
from scriptserver_ioc.core.server import ScriptServer
from scriptserver_ioc.core.specs import Rejected, parse_call, parse_ids, parse_job_text
from scriptserver_ioc.store.sqlite import Store
from scriptserver_ioc.validate.validator import Validator

COMMANDS = Path(__file__).resolve().parent.parent / "commands"


def make_server(tmp_path: Path) -> ScriptServer:
    store = Store(tmp_path / "db.sqlite")
    (tmp_path / "scripts").mkdir(exist_ok=True)
    catalogue = Catalogue([COMMANDS])
    validator = Validator(catalogue, history=store, scripts_dir=tmp_path / "scripts")
    return make_core(
        store, catalogue, validator, scripts_dir=tmp_path / "scripts", logs_dir=tmp_path
    )


def queued_ids(server: ScriptServer) -> list[int]:
    return server.queue.ids()


def add(server: ScriptServer, value) -> list[int]:
    reply = server.control("QUEUE:ADD", json.dumps(value) if not isinstance(value, str) else value)
    assert reply.ok, reply.message
    return reply.job_ids


# -- JobQueue --------------------------------------------------------------------------


def jobs(*ids: int) -> list[Job]:
    return [Job(id=i, name=str(i), kind="script", script="pass") for i in ids]


def test_GIVEN_queue_WHEN_inserting_between_neighbours_repeatedly_THEN_keys_stay_ordered():
    queue = JobQueue()
    queue.insert(jobs(1, 2))
    for n in range(3, 80):
        queue.insert(jobs(n), 1)  # always between the first and the second
    keys = [queue.keys[i] for i in queue.ids()]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert queue.ids()[0] == 1 and queue.ids()[-1] == 2


def test_GIVEN_queue_WHEN_reordered_with_partial_order_THEN_others_follow_in_their_order():
    queue = JobQueue()
    queue.insert(jobs(1, 2, 3, 4, 5))
    queue.reorder([4, 2, 99])
    assert queue.ids() == [4, 2, 1, 3, 5]


# -- spec parsing -----------------------------------------------------------------------


def test_GIVEN_call_text_WHEN_parsed_THEN_literals_only():
    assert parse_call("set_ei(25, wait=False)") == ("set_ei", [25], {"wait": False})
    assert parse_call("scan('x', [1, 2.5], {'a': None})")[1] == ["x", [1, 2.5], {"a": None}]
    for bad in ("set_ei(x)", "os.system('ls')", "set_ei(*a)", "set_ei(1) + 1", "set_ei(1j)"):
        with pytest.raises(Rejected):
            parse_call(bad)


def test_GIVEN_specs_WHEN_parsed_THEN_unknown_keys_and_two_contents_rejected():
    with pytest.raises(Rejected, match="unknown key 'sript'"):
        parse_job_text('{"sript": "x"}')
    with pytest.raises(Rejected, match="exactly one"):
        parse_job_text('{"script": "x=1", "file": "a.py"}')
    with pytest.raises(Rejected, match="batch item 1"):
        parse_job_text('[{"call": "a()"}, {"call": "b()", "position": 2}]')
    assert parse_ids("all") is None
    assert parse_ids("[3, 3, 4]") == [3, 4]


# -- ScriptServer queue operations --------------------------------------------------------


def test_GIVEN_server_WHEN_jobs_added_moved_and_removed_THEN_state_and_store_agree(tmp_path):
    server = make_server(tmp_path)
    a, b, c = (add(server, f"set_ei({e})")[0] for e in (1, 2, 3))
    assert server.control("QUEUE:MOVE", json.dumps({"id": c, "before": a})).ok
    assert server.control("QUEUE:REMOVE", str(b)).ok
    assert queued_ids(server) == [c, a]
    reloaded = make_server(tmp_path)
    assert queued_ids(reloaded) == [c, a]
    assert [j.to_dict() for j in reloaded.queue] == [j.to_dict() for j in server.queue]


def test_GIVEN_rejected_write_WHEN_applied_THEN_reply_names_problem_and_nothing_changes(tmp_path):
    server = make_server(tmp_path)
    add(server, "set_ei(1)")
    before = server.queue_json()
    reply = server.control("QUEUE:MOVE", json.dumps({"id": 42, "to": 0}))
    assert not reply.ok
    assert reply.message.startswith("QUEUE:MOVE: job 42 is not queued (no such job); queued ids: ")
    assert server.last_error == reply.message
    assert server.queue_json() == before
    assert server.replies[0] is reply


def test_GIVEN_refused_write_WHEN_next_write_succeeds_THEN_last_error_cleared(tmp_path):
    server = make_server(tmp_path)
    assert not server.control("QUEUE:MOVE", json.dumps({"id": 42, "to": 0})).ok
    assert server.last_error.startswith("QUEUE:MOVE: job 42 is not queued")
    assert server.control("QUEUE:HOLD", 1).ok
    assert server.last_error == ""


def test_GIVEN_removed_jobs_WHEN_new_job_added_after_restart_THEN_ids_never_reused(tmp_path):
    server = make_server(tmp_path)
    ids = add(server, [{"call": "set_ei(1)"}, {"call": "set_ei(2)"}])
    server.control("QUEUE:CLEAR", 1)
    (new_id,) = add(make_server(tmp_path), "set_ei(3)")
    assert new_id > max(ids)


def test_GIVEN_queue_bound_WHEN_exceeded_THEN_rejected_naming_it(tmp_path, monkeypatch):
    from scriptserver_ioc.contract import limits

    monkeypatch.setattr(limits, "MAX_QUEUE_LENGTH", 3)
    server = make_server(tmp_path)
    add(server, [{"call": "set_ei(1)"}, {"call": "set_ei(2)"}])
    reply = server.control("QUEUE:ADD", '[{"call": "set_ei(1)"}, {"call": "set_ei(2)"}]')
    assert not reply.ok and "MAX_QUEUE_LENGTH" in reply.message
    assert len(server.queue) == 2


def test_GIVEN_file_job_WHEN_path_escapes_scripts_dir_THEN_rejected(tmp_path):
    server = make_server(tmp_path)
    (tmp_path / "secret.py").write_text("print(1)")
    reply = server.control("QUEUE:ADD", '{"file": "../secret.py"}')
    assert not reply.ok and "outside the scripts directory" in reply.message


def test_GIVEN_no_scripts_server_WHEN_script_added_THEN_rejected(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    catalogue = Catalogue([COMMANDS])
    validator = Validator(catalogue, history=store, allow_scripts=False)
    server = make_core(store, catalogue, validator, logs_dir=tmp_path, allow_scripts=False)
    reply = server.control("QUEUE:ADD", '{"script": "print(1)"}')
    assert not reply.ok and "--no-scripts" in reply.message
    assert server.control("QUEUE:ADD", "set_ei(3)").ok


def test_GIVEN_disk_failure_WHEN_jobs_added_THEN_reply_says_so_and_memory_matches_store(
    tmp_path, monkeypatch
):
    import sqlite3

    server = make_server(tmp_path)
    add(server, "set_ei(10)")
    before = server.queue_json()

    def failing_save(jobs):  # what a full disk looks like to sqlite3
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(server.store, "save_jobs", failing_save)
    reply = server.control("QUEUE:ADD", '[{"call": "set_ei(20)"}, {"call": "set_ei(30)"}]')
    assert not reply.ok and "nothing was changed" in reply.message
    assert server.queue_json() == before
    monkeypatch.undo()
    assert make_server(tmp_path).queue_json() == before
    assert add(server, "set_ei(40)")


def test_GIVEN_random_changes_in_a_decision_WHEN_undone_THEN_queue_exactly_as_before():
    import random

    from scriptserver_ioc.core.jobs import set_undo_log

    rng = random.Random(7)
    for _ in range(60):
        queue = JobQueue()
        queue.insert(jobs(*range(1, 30)))
        before = (queue.ids(), dict(queue.keys), queue.json_bytes, queue.estimate_total)
        undo: list = []
        set_undo_log(undo)
        try:
            next_id = 1000
            for _ in range(rng.randrange(1, 12)):
                ids, op = queue.ids(), rng.randrange(7)
                if op == 0:
                    queue.insert(jobs(next_id, next_id + 1), rng.randrange(len(ids) + 2))
                    next_id += 2
                elif op == 1 and ids:
                    queue.remove(rng.sample(ids, rng.choice([1, 3, min(12, len(ids))])))
                elif op == 2 and ids:
                    queue.move(rng.choice(ids), rng.randrange(len(ids)))
                elif op == 3:
                    queue.reorder(rng.sample(ids, min(4, len(ids))))
                elif op == 4 and ids:
                    replacement = jobs(rng.choice(ids))[0]
                    replacement.update(estimate=5.0)
                    queue.replace(replacement)
                elif op == 5 and ids:
                    queue.update_job(queue.get(rng.choice(ids)), estimate=7.0, name="x")
                elif op == 6:  # into one gap until it is exhausted: every key renumbered
                    renumbered = [queue.insert(jobs(next_id + n), 1) for n in range(40)]
                    next_id += 40
                    assert any(renumbered)
        finally:
            set_undo_log(None)
        for step in reversed(undo):
            step()
        queue.settle()
        after = (queue.ids(), dict(queue.keys), queue.json_bytes, queue.estimate_total)
        assert after == before
        assert {i: queue.get(i).id for i in queue.ids()} == {i: i for i in before[0]}
        assert all(queue.get(i).estimate is None and queue.get(i).name == str(i) for i in before[0])


def test_GIVEN_named_script_job_WHEN_its_script_updated_THEN_the_name_survives(tmp_path):
    server = make_server(tmp_path)
    (named,) = add(server, json.dumps({"script": "x = 1\n", "name": "overnight"}))
    (plain,) = add(server, json.dumps({"script": "x = 1\n"}))
    for job_id in (named, plain):
        assert server.control("QUEUE:UPDATE", json.dumps({"id": job_id, "script": "y = 2\n"})).ok
    names = {job.id: job.name for job in server.queue}
    assert names == {named: "overnight", plain: "script: y = 2"}


def test_GIVEN_script_read_from_file_WHEN_added_and_updated_THEN_named_after_its_file(tmp_path):
    server = make_server(tmp_path)
    spec = {"script": "x = 1\n", "tags": {"source_file": "my_scan.py"}}
    (job_id,) = add(server, json.dumps(spec))
    assert server.queue.get(job_id).name == "my_scan.py"
    edit = {"id": job_id, "script": "y = 2\n", "tags": {"source_file": "other.py"}}
    assert server.control("QUEUE:UPDATE", json.dumps(edit)).ok
    assert server.queue.get(job_id).name == "other.py"
