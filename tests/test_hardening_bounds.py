"""Poison values and bad stored rows: bounded at the boundary, survived at start-up.

Issue #10, defects 1 and 3: an absurd estimate once made every read of QUEUE:FINISH abort
the IOC and every later start fail; NaN and huge numbers passed into strict-JSON PVs.
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from core_factory import make_core
from test_core_queue import add, make_server

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.contract.limits import MAX_ESTIMATE_SECONDS
from scriptserver_ioc.core.bounds import (
    BadRecord,
    bounded_estimate,
    job_from_row,
    strict_json_loads,
)
from scriptserver_ioc.core.forecast import queue_finish
from scriptserver_ioc.core.jobs import Job
from scriptserver_ioc.core.specs import request_id_of
from scriptserver_ioc.store.sqlite import Store
from scriptserver_ioc.validate.companions import CompanionRunner
from scriptserver_ioc.validate.validator import Validator


@pytest.mark.parametrize(
    "text", ["NaN", "[Infinity]", '{"x": -Infinity}', "1e999", "[-1e400]", "1" + "0" * 30]
)
def test_GIVEN_non_strict_or_huge_number_WHEN_loaded_THEN_refused_naming_it(text):
    with pytest.raises(ValueError) as caught:
        strict_json_loads(text)
    assert "number" in str(caught.value) or "integer" in str(caught.value)


def test_GIVEN_ordinary_json_WHEN_loaded_THEN_same_as_json_module():
    text = '{"a": [1, -2, 3.5, 9223372036854775807, null, true, "x"]}'
    assert strict_json_loads(text) == json.loads(text)


@pytest.mark.parametrize("seconds", [1e14, math.inf, math.nan, -5, "10", True])
def test_GIVEN_absurd_estimate_WHEN_bounded_THEN_unknown_with_reason(seconds):
    value, reason = bounded_estimate(seconds)
    assert value is None and reason


def test_GIVEN_estimate_within_bounds_WHEN_bounded_THEN_kept():
    assert bounded_estimate(3600) == (3600.0, None)
    assert bounded_estimate(MAX_ESTIMATE_SECONDS) == (MAX_ESTIMATE_SECONDS, None)


@pytest.mark.parametrize("eta", [1e14, 1e300, 20_000 * MAX_ESTIMATE_SECONDS, math.nan])
def test_GIVEN_eta_beyond_the_calendar_WHEN_finish_formatted_THEN_text_not_overflow(eta):
    now = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
    text = queue_finish(eta, now=now)
    assert isinstance(text, str) and 0 < len(text) < 40


POISON_COMMANDS = """
def hold_for(seconds: float):
    \"\"\"Wait for `seconds`.\"\"\"


def estimate_hold_for(seconds):
    return seconds
"""


@pytest.fixture
def poison_server(tmp_path):
    """A core whose catalogue has a command estimating whatever its argument says."""
    commands = tmp_path / "commands"
    commands.mkdir()
    (commands / "hold.py").write_text(POISON_COMMANDS)
    store = Store(tmp_path / "db.sqlite")
    catalogue = Catalogue([commands])
    companions = CompanionRunner(sys.executable, [commands])
    validator = Validator(catalogue, companions, history=store, scripts_dir=tmp_path)
    server = make_core(store, catalogue, validator, scripts_dir=tmp_path, logs_dir=tmp_path)
    yield server
    companions.close()
    store.close()


def test_GIVEN_command_estimating_1e14_s_WHEN_added_THEN_estimate_unknown_and_eta_readable(
    poison_server,
):
    server = poison_server
    (job_id,) = add(server, "hold_for(1e14)")
    job = server.queue.get(job_id)
    assert job.estimate is None and job.estimate_source == "none"
    assert any("MAX_ESTIMATE_SECONDS" in w for w in job.warnings)
    (sane,) = add(server, "hold_for(30)")
    assert server.queue.get(sane).estimate == 30.0
    reply = server.control("QUEUE:UPDATE", json.dumps({"id": sane, "args": {"seconds": 1e15}}))
    assert reply.ok and server.queue.get(sane).estimate is None
    (big,) = add(server, f"hold_for({MAX_ESTIMATE_SECONDS})")
    for _ in range(3):
        reply = server.control("QUEUE:REPEAT", json.dumps({"id": big, "times": 1000}))
        assert reply.ok, reply.message
    assert math.isfinite(server.queue_eta())
    assert 0 < len(queue_finish(server.queue_eta())) < 40


def _poison(db: Path, job_id: int, record) -> None:
    with sqlite3.connect(db) as conn:
        text = record if isinstance(record, str) else json.dumps(record)
        conn.execute("UPDATE jobs SET record=? WHERE id=?", (text, job_id))


def test_GIVEN_bad_rows_in_store_WHEN_server_starts_THEN_good_jobs_served_bad_quarantined(
    tmp_path,
):
    server = make_server(tmp_path)
    ids = add(server, [{"call": f"set_ei({10 + i})"} for i in range(6)])
    server.store.close()
    db = tmp_path / "db.sqlite"
    good = Job(id=ids[0], name="x", kind="command").to_dict()
    _poison(db, ids[1], {**good, "id": ids[1], "estimate": 1e14})  # repaired: estimate null
    _poison(db, ids[2], "{not json")
    _poison(db, ids[3], f'{{"id": {ids[3]}, "name": "n", "kind": "command", "progress": NaN}}')
    _poison(db, ids[4], {**good, "id": ids[4], "created": "yesterday"})
    _poison(db, ids[5], {**good, "id": 999})
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE settings SET value='not json' WHERE key='next_id'")
        conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES ('hold', '\"x\"')")

    restarted = make_server(tmp_path)

    assert restarted.queue.ids() == [ids[0], ids[1]]
    assert restarted.queue.get(ids[1]).estimate is None
    log = restarted.log_text()
    for job_id in ids[2:]:
        assert f"job row {job_id} set aside in the quarantine table" in log
    assert "estimate" in log and "set to null" in log
    assert "setting 'hold'" in log
    assert restarted.last_error
    (new_id,) = add(restarted, "set_ei(40)")
    assert new_id > max(ids)
    with sqlite3.connect(db) as conn:
        kept = conn.execute("SELECT job_id, reason FROM quarantine ORDER BY job_id").fetchall()
    assert [row[0] for row in kept] == ids[2:]
    restarted.store.close()
    again = make_server(tmp_path)  # the bad rows are gone from jobs: nothing new to report
    assert again.log_text().count("set aside") == 4
    again.store.close()


@pytest.mark.parametrize(
    "text, words",
    [
        ("[]", "not a JSON object"),
        ('{"id": 1, "name": "n", "kind": "command", "state": "LOST"}', "state"),
        ('{"id": 1, "name": "n", "kind": "shell"}', "kind"),
        ('{"id": 1, "name": 5, "kind": "command"}', "'name'"),
        ('{"id": 1, "name": "n", "kind": "command", "tags": []}', "'tags'"),
        ('{"id": 1, "name": "n", "kind": "command", "exit_code": 1e300}', "exit_code"),
        ('{"id": 1, "name": "n", "kind": "command", "started": "25:61"}', "started"),
        ("[" * 100_000, "strict JSON"),
    ],
)
def test_GIVEN_unservable_record_WHEN_rebuilt_THEN_bad_record_names_the_field(text, words):
    with pytest.raises(BadRecord) as caught:
        job_from_row(1, text)
    assert words in str(caught.value)


def test_GIVEN_store_with_unreadable_handle_WHEN_active_jobs_read_THEN_no_handle(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    job = Job(id=1, name="x", kind="command")
    store.save_job(job, None, handle={"pid": 1})
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        conn.execute("UPDATE jobs SET handle='{broken' WHERE id=1")
    ((loaded, handle),) = store.active_jobs()
    assert loaded.id == 1 and handle is None
    store.close()


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"request_id": "r1", "call": ', "r1"),
        ('[{"request_id": "r2", "call": "x"}, 5]', "r2"),
        ('{"request_id": 7}', None),
        ("17", None),
        ('{"request_id": "' + "x" * 500 + '"}', None),
    ],
)
def test_GIVEN_refused_write_WHEN_request_id_looked_for_THEN_echoed_if_present(text, expected):
    assert request_id_of(text) == expected


@pytest.mark.parametrize("pv", ["QUEUE:ADD", "QUEUE:MOVE", "QUEUE:UPDATE"])
def test_GIVEN_request_id_WHEN_written_to_any_control_pv_THEN_one_rule(tmp_path, pv):
    """`request_id`: empty is none given, a string of at most 128 is echoed, else refused."""
    server = make_server(tmp_path)
    (job_id,) = add(server, {"call": "set_ei(1)"})
    value = {
        "QUEUE:ADD": {"call": "set_ei(2)"},
        "QUEUE:MOVE": {"id": job_id, "to": 0},
        "QUEUE:UPDATE": {"id": job_id, "name": "renamed"},
    }[pv]
    empty = server.control(pv, json.dumps({**value, "request_id": ""}))
    assert empty.ok and empty.request_id is None, empty.message
    given = server.control(pv, json.dumps({**value, "request_id": "r-1"}))
    assert given.ok and given.request_id == "r-1", given.message
    for bad in (7, "x" * 129):
        before = [(job.id, job.name) for job in server.queue]
        reply = server.control(pv, json.dumps({**value, "request_id": bad}))
        assert not reply.ok and reply.request_id is None
        assert "'request_id' must be a string of at most 128 characters" in reply.message
        assert [(job.id, job.name) for job in server.queue] == before
