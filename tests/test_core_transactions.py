"""One decision, one transaction, counted on the real SQLite store (issue #21).

The statements SQLite runs are watched with its own trace callback, so what is counted
is what the database does: an add is one ``BEGIN IMMEDIATE``, whatever it adds, and a
refused write or one that changes nothing opens none.
"""

from __future__ import annotations

import json

import pytest
from test_core_queue import make_server


@pytest.fixture
def server(tmp_path):
    server = make_server(tmp_path)
    (tmp_path / "scripts" / "scan.py").write_text("x = 1\n", encoding="utf-8")
    server.control("QUEUE:HOLD", 1)
    begun: list[str] = []
    server.store._db.set_trace_callback(
        lambda sql: begun.append(sql) if sql.startswith("BEGIN") else None
    )
    server.begun = begun
    yield server
    server.store.close()


@pytest.mark.parametrize(
    "spec",
    [
        {"call": "set_ei(10)"},
        [{"call": "set_ei(10)"}, {"script": "x = 1\n"}, {"file": "scan.py"}],
        {"file": "scan.py", "name": "a file job"},
    ],
    ids=["one command", "a batch of three kinds", "a file job"],
)
def test_GIVEN_add_WHEN_accepted_THEN_exactly_one_transaction(server, spec):
    reply = server.control("QUEUE:ADD", json.dumps(spec))
    assert reply.ok, reply.message
    assert server.begun == ["BEGIN IMMEDIATE"]


@pytest.mark.parametrize(
    "pv, value",
    [
        ("QUEUE:ADD", '{"call": "no_such_command(1)"}'),
        ("QUEUE:ADD", '{"file": "missing.py"}'),
        ("QUEUE:MOVE", '{"id": 999, "to": 0}'),
        ("QUEUE:HOLD", 7),
    ],
)
def test_GIVEN_write_WHEN_refused_THEN_no_transaction_opened(server, pv, value):
    reply = server.control(pv, value)
    assert not reply.ok
    assert server.begun == []
