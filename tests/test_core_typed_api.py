"""The core's typed API: calls with decoded values, the same decisions as PV writes (#21).

The edges decode what clients send (`ioc/writes.py` for Channel Access, `nicos/adapter.py`
for the NICOS bridge) and call the core with typed values: job specs, ids, flags. The
core parses no PV value; a reply is labelled with what the edge names it.
"""

from __future__ import annotations

from pathlib import Path

from core_factory import make_core

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.core.operation import Request
from scriptserver_ioc.core.server import ScriptServer
from scriptserver_ioc.core.specs import JobSpec, parse_spec
from scriptserver_ioc.store.sqlite import Store
from scriptserver_ioc.validate.validator import Validator

COMMANDS = Path(__file__).resolve().parent.parent / "commands"


def make(tmp_path: Path, name: str) -> ScriptServer:
    (tmp_path / name).mkdir()
    store = Store(tmp_path / name / "db.sqlite")
    catalogue = Catalogue([COMMANDS])
    return make_core(store, catalogue, Validator(catalogue, history=store), logs_dir=tmp_path)


def summary(reply) -> tuple:
    return reply.pv, reply.ok, reply.message, reply.request_id, reply.job_ids


def test_GIVEN_core_THEN_it_takes_no_pv_values():
    assert not hasattr(ScriptServer, "control")
    assert not hasattr(ScriptServer, "routes")


def test_GIVEN_typed_calls_WHEN_made_THEN_replies_equal_those_of_the_pv_writes(tmp_path):
    by_pv, typed = make(tmp_path, "ca"), make(tmp_path, "typed")

    def asked(label: str, request_id: str | None = None) -> Request:
        return Request(label, "alice@ndx", request_id)

    spec = JobSpec(kind="command", command="set_ei", positional=[25])
    pairs = [
        (("QUEUE:HOLD", 1), lambda: typed.set_hold(True, asked("QUEUE:HOLD"))),
        (("QUEUE:ADD", "set_ei(25)"), lambda: typed.add([spec], asked("QUEUE:ADD"))),
        (
            ("QUEUE:ADD", '{"call": "set_ei(3)", "request_id": "r1"}'),
            lambda: typed.add(
                [parse_spec({"call": "set_ei(3)", "request_id": "r1"})], asked("QUEUE:ADD", "r1")
            ),
        ),
        (
            ("QUEUE:MOVE", '{"id": 2, "to": "top"}'),
            lambda: typed.move(2, "to", "top", asked("QUEUE:MOVE")),
        ),
        (("QUEUE:MOVE", '{"order": [1, 2]}'), lambda: typed.reorder([1, 2], asked("QUEUE:MOVE"))),
        (
            ("QUEUE:REPEAT", '{"id": 1, "times": 2}'),
            lambda: typed.repeat(1, 2, asked("QUEUE:REPEAT")),
        ),
        (("QUEUE:REMOVE", "[3, 4]"), lambda: typed.remove([3, 4], asked("QUEUE:REMOVE"))),
        (("QUEUE:1:ACTION", 2), lambda: typed.slot_action(1, "DOWN", asked("QUEUE:1:ACTION"))),
        (("QUEUE:SKIP", "2"), lambda: typed.skip(2, asked("QUEUE:SKIP"))),
        (("QUEUE:ON_ERROR", 1), lambda: typed.set_on_error(False, asked("QUEUE:ON_ERROR"))),
        (("PAUSE", 2), lambda: typed.pause(True, asked("PAUSE"))),
        (("ABORT", 1), lambda: typed.abort(False, asked("ABORT"))),
        (("QUEUE:REMOVE", "all"), lambda: typed.remove(None, asked("QUEUE:REMOVE"))),
    ]
    for (pv, value), call in pairs:
        expected = by_pv.control(pv, value, "alice@ndx")
        assert summary(call()) == summary(expected), pv
    assert [line.split(" ", 1)[1] for line in typed.event_log] == [
        line.split(" ", 1)[1] for line in by_pv.event_log
    ]


def test_GIVEN_value_the_edge_cannot_decode_WHEN_written_THEN_refused_by_the_core_with_its_id(
    tmp_path,
):
    core = make(tmp_path, "core")
    done = []
    reply = core.control("QUEUE:MOVE", '{"id": "x", "to": 0, "request_id": "q7"}', "", done.append)
    assert done == [reply]
    assert summary(reply) == (
        "QUEUE:MOVE",
        False,
        "QUEUE:MOVE: job id must be a positive integer up to 2147483647, got 'x'",
        "q7",
        [],
    )
    assert core.last_error == reply.message


def test_GIVEN_nicos_bridge_WHEN_it_changes_the_queue_THEN_typed_calls_labelled_as_pvs(tmp_path):
    from scriptserver_ioc.nicos.adapter import USER_TAG, CoreAdapter

    core = make(tmp_path, "core")
    adapter = CoreAdapter(core)
    assert adapter.release_hold("bob").ok
    assert core.control("QUEUE:HOLD", 1).ok
    queued = adapter.queue_script("scan", "x = 1\n", "bob")
    assert queued.ok and queued.message == f"queued job {queued.job_ids[0]}"
    job = core.queue.get(queued.job_ids[0])
    assert job.name == "scan" and job.tags == {USER_TAG: "bob"}

    refused = adapter.reorder([0], "bob")  # not a job id: refused by the core, as a PV write is
    assert not refused.ok
    assert (
        refused.message == "QUEUE:MOVE: job id must be a positive integer up to 2147483647, got 0"
    )
    assert core.last_error == refused.message
    too_long = adapter.queue_script("n" * 100_000, "x = 2\n", "bob")
    assert not too_long.ok and too_long.message.startswith("QUEUE:ADD: ")
    assert core.queue.ids() == queued.job_ids
    assert adapter.remove(None, "bob").ok and not core.queue
    assert [line.split(" ", 1)[1] for line in core.event_log][-1] == (
        f"bob@nicos: removed job {queued.job_ids[0]} from the queue"
    )
