"""The core's state machine with a fake runner over the real store: no sockets, no processes.

Every control PV of the PV table (iterated, so a new one is covered or fails here for want
of sample values) is written in every state with valid and invalid values. A write that is
accepted makes the STATE transition and the runner calls listed in `expected` (others
change no STATE and call nothing); a refused one leaves every published value and the
store as they were. Then the store (the real SQLite one, in memory: `faulty_store.py`) fails
("database or disk is full") at each write point of each accepted decision: the whole
decision is undone and REPLY says nothing changed.
"""

from __future__ import annotations

import json
import threading

import pytest
from core_factory import make_core
from core_fakes import FakeCatalogue, FakeRunner, FakeValidator
from faulty_store import DISK_FULL, FaultyStore
from manual_clock import ManualTimers

from scriptserver_ioc.contract import limits
from scriptserver_ioc.contract.pvtable import BY_NAME, CONTROL_PVS
from scriptserver_ioc.core.job_output import selected_output
from scriptserver_ioc.core.server import ScriptServer
from scriptserver_ioc.core.unsaved import RETRY_SECONDS

STATES = ("IDLE", "HELD", "RUNNING", "PAUSING", "PAUSED", "ABORTING")
"""STATE's enum, and IDLE with the queue held (HELD) as a state of its own."""
RUNNING_STATES = ("RUNNING", "PAUSING", "PAUSED", "ABORTING")
STATE_OF = {"HELD": "IDLE"}
SCRIPT = "a = 1\nb = 2\nc = 3\n"
EDIT = json.dumps({"id": 2, "script": "a = 1\nb = 20\nc = 30\n"})

SAMPLES: dict[str, tuple] = {
    "QUEUE:ADD": ('{"script": "y = 2"}', "scan(3)", '[{"script": "a = 1"}, {"call": "scan(2)"}]'),
    "QUEUE:REMOVE": ("3", "[3, 4]", "all"),
    "QUEUE:MOVE": ('{"id": 5, "to": "top"}', '{"id": 3, "after": 4}', '{"order": [5, 4, 3]}'),
    "QUEUE:UPDATE": ('{"id": 3, "name": "renamed"}', EDIT),
    "QUEUE:REPEAT": ("3", '{"id": 4, "times": 2}'),
    "QUEUE:RERUN": ("1", '{"id": 1, "name": "again"}'),
    "QUEUE:SKIP": ("3", "2"),
    "QUEUE:CLEAR": (1,),
    "RESUME": (1,),
    "STOP": (1,),
    "VALIDATE": ('{"script": "z = 3"}', "scan(2)"),
    "COMMANDS:RELOAD": (1,),
    "JOB:OUTPUT:SELECT": (1,),
}
"""Valid values of the control PVs that are not enums (enums: every state but NONE)."""

BAD_TEXT = ("", "  ", "{", '{"id": 999}', "\x00\xff\ufffd", "[]", "scan(", '{"script": 1}')
BAD_TEXT += ("9" * 30,)
BAD_NUMBERS = (-1, 7, 2**40, "x", None, 1.5)
NO_WRITES = {"VALIDATE", "JOB:OUTPUT:SELECT", "COMMANDS:RELOAD"}
"""Control PVs whose decisions write nothing to the store."""

TRANSITIONS = {
    ("IDLE", "RUNNING"),
    ("RUNNING", "PAUSING"),
    ("RUNNING", "PAUSED"),
    ("RUNNING", "ABORTING"),
    ("RUNNING", "IDLE"),
    ("PAUSING", "PAUSED"),
    ("PAUSING", "RUNNING"),
    ("PAUSING", "ABORTING"),
    ("PAUSING", "IDLE"),
    ("PAUSED", "RUNNING"),
    ("PAUSED", "ABORTING"),
    ("PAUSED", "IDLE"),
    ("ABORTING", "IDLE"),
    ("ABORTING", "RUNNING"),
    ("ABORTING", "PAUSED"),
}
"""Every STATE transition: from control writes, runner events, and a runner call that failed
after the commit (the abort not carried out: back to RUNNING or PAUSED)."""


def valid_values(pv: str) -> tuple:
    enums = BY_NAME[pv].enums
    if enums:
        return tuple(range(1, len(enums))) if enums[0] == "NONE" else tuple(range(len(enums)))
    assert pv in SAMPLES, f"give SAMPLES[{pv!r}]: valid values of a new control PV"
    return SAMPLES[pv]


def invalid_values(pv: str) -> tuple:
    info = BY_NAME[pv]
    if info.enums and info.enums[0] == "NONE":
        return (0, *BAD_NUMBERS)
    return BAD_TEXT if info.type == "char" else BAD_NUMBERS


def expected(pv: str, value, state: str) -> tuple[bool, str, list[str]] | None:
    """(accepted, STATE after, runner calls) of writes that drive the state machine."""
    running, name = state in RUNNING_STATES, STATE_OF.get(state, state)
    refused = (False, name, [])
    if pv == "PAUSE":
        ok = state == "RUNNING" or (state == "PAUSING" and value == 2)
        return (True, "PAUSING", ["pause"]) if ok else refused
    if pv == "RESUME":
        after = {"PAUSING": "RUNNING", "PAUSED": "PAUSED"}.get(state)
        return (True, after, ["resume"]) if after else refused
    if pv == "ABORT" or (pv == "QUEUE:SKIP" and value == "2"):
        ok = running and (state != "ABORTING" or (pv == "ABORT" and value == 2))
        return (True, "ABORTING", ["abort"]) if ok else refused
    if pv == "STOP":
        aborts = running and state != "ABORTING"
        return True, "ABORTING" if running else "IDLE", ["abort"] if aborts else []
    if pv == "QUEUE:UPDATE" and value == EDIT:
        return (True, name, ["edit"]) if running and state != "ABORTING" else refused
    if pv == "QUEUE:HOLD" and value == 0 and state == "HELD":
        return True, "RUNNING", ["start"]
    if pv in ("QUEUE:ADD", "QUEUE:RERUN") and state == "IDLE":
        return True, "RUNNING", ["start"]
    return None


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs")
    (path / "job-1.log").write_text("output of job 1\n")
    return path


def must(core: ScriptServer, pv: str, value) -> None:
    reply = core.control(pv, value, "setup")
    assert reply is not None and reply.ok, reply


def finish(core: ScriptServer, job_id: int, state: str = "DONE") -> None:
    core.on_job_event(job_id, {"type": "finished", "state": state, "error": None, "exit_code": 0})


def build(state: str, logs) -> tuple[ScriptServer, FaultyStore, FakeRunner]:
    """A core in `state`: job 1 finished, job 2 current (or finished), 3..12 queued, held."""
    store = FaultyStore()
    runner = FakeRunner(store)
    core = make_core(
        store,
        FakeCatalogue(),
        FakeValidator(),
        scripts_dir=logs,
        logs_dir=logs,
        timers=ManualTimers(),
    )
    runner.core, runner.probe = core, False
    core.attach_runner(runner)
    must(core, "QUEUE:ADD", '{"script": "x = 1", "name": "first"}')
    finish(core, 1)
    must(core, "QUEUE:HOLD", 1)
    batch = [{"script": SCRIPT}, {"script": "d = 4"}, {"call": "scan(3)"}, {"call": "scan(5)"}]
    batch += [{"script": f"e = {n}"} for n in range(6, 13)]  # 3..12: every queue slot used
    must(core, "QUEUE:ADD", json.dumps(batch))
    must(core, "QUEUE:HOLD", 0)
    core.on_job_event(2, {"type": "started", "pid": 12, "handle": {"pid": 12}})
    core.on_job_event(2, {"type": "line", "line": 1})
    must(core, "QUEUE:HOLD", 1)
    if state in ("IDLE", "HELD"):
        finish(core, 2)
    if state == "IDLE":
        must(core, "QUEUE:CLEAR", 1)
        must(core, "QUEUE:HOLD", 0)
    if state == "PAUSING":
        must(core, "PAUSE", 1)
    if state == "PAUSED":
        must(core, "PAUSE", 2)
        core.on_job_event(2, {"type": "paused", "line": 1})
    if state == "ABORTING":
        must(core, "ABORT", 1)
    assert core.run_state.value == STATE_OF.get(state, state)
    runner.calls.clear()
    runner.probe = True
    store.arm(None)
    return core, store, runner


def published(core: ScriptServer, *leave_out: str) -> dict:
    """What clients can see of the core (time-dependent values left out)."""
    with core.lock:
        status = {k: v for k, v in core.status().items() if k not in ("server_time", "queue_eta")}
        status.pop("groups")
        seen = {
            "state": core.run_state.value,
            "status": status,
            "queue": core.queue_json(),
            "slots": core.queue_slots(),
            "current": core.current.to_dict() if core.current else None,
            "script": core.current_source,
            "output": core.output_tail,
            "history": [job.to_dict() for job in core.history],
            "log": core.log_text(),
            "validate": core.validate_result,
            "job_output": selected_output(core),
            "last_error": core.last_error,
            "replies": core.replies_list(),
            "pending": [core._end_as is not None, core._pause_carried, core._edit_waiting],
        }
    for key in leave_out:
        seen.pop(key, None)
        seen["status"].pop(key, None)
    return json.loads(json.dumps(seen, default=str))


REFUSAL_MARKS = ("last_error", "replies")
"""What a refused write changes: its reply and LAST_ERROR."""


@pytest.mark.parametrize("pv", CONTROL_PVS)
def test_GIVEN_each_state_WHEN_control_pv_written_THEN_transition_and_effects_or_no_trace(pv, logs):
    accepted = set()
    for state in STATES:
        for value in valid_values(pv):
            core, store, runner = build(state, logs)
            before, stored = published(core, *REFUSAL_MARKS), store.dump()
            reply = core.control(pv, value, "tester@host")
            outcome = (reply.ok, core.run_state.value, runner.methods())
            want = expected(pv, value, state)
            where = f"{pv}={value!r} in {state}: {reply.message}"
            if want is not None:
                assert outcome == want, where
            elif reply.ok:
                assert outcome[1:] == (STATE_OF.get(state, state), []), where
            if reply.ok:
                accepted.add(value)
                moved = (STATE_OF.get(state, state), core.run_state.value)
                assert moved[0] == moved[1] or moved in TRANSITIONS, where
            else:
                assert published(core, *REFUSAL_MARKS) == before, where
                assert store.dump() == stored, where
        for value in invalid_values(pv):
            core, store, runner = build(state, logs)
            marks = REFUSAL_MARKS + (("validate",) if pv == "VALIDATE" else ())
            before, stored = published(core, *marks), store.dump()
            reply = core.control(pv, value, "tester@host")
            where = f"{pv}={value!r} in {state}: {reply.message}"
            if pv == "VALIDATE" and reply.ok:  # a verdict "invalid"; nothing else changes
                assert core.validate_result["ok"] is False, where
            else:
                assert not reply.ok, where
            assert (published(core, *marks), store.dump(), runner.calls) == (before, stored, [])
    never = set(valid_values(pv)) - accepted
    assert not never, f"{pv}: valid values never accepted in any state: {never}"


def safety_action(pv: str, value, state: str) -> bool:
    """PAUSE, ABORT, STOP and the skip of the running job (id 2): the store cannot refuse."""
    return pv in ("PAUSE", "ABORT", "STOP") or (
        pv == "QUEUE:SKIP" and value == "2" and state in RUNNING_STATES
    )


@pytest.mark.parametrize("pv", CONTROL_PVS)
def test_GIVEN_accepted_write_WHEN_store_fails_at_each_write_THEN_whole_decision_undone(pv, logs):
    points = 0
    for state in STATES:
        for value in valid_values(pv):
            core, store, runner = build(state, logs)
            if not core.control(pv, value, "tester").ok or not store.transactions:
                continue
            if safety_action(pv, value, state):
                continue  # carried out all the same: the next test
            for fail_at in range(len(store.transactions[0])):  # the decision's own commit
                core, store, runner = build(state, logs)
                before, stored = published(core, *REFUSAL_MARKS, "store_error"), store.dump()
                store.arm(fail_at)
                reply = core.control(pv, value, "tester")
                where = f"{pv}={value!r} in {state}, write {fail_at} fails: {reply.message}"
                assert not reply.ok and "nothing was changed" in reply.message, where
                assert DISK_FULL in core.last_error, where
                assert published(core, *REFUSAL_MARKS, "store_error") == before, where
                assert (store.dump(), runner.calls) == (stored, []), where
                points += 1
    safety = pv in ("PAUSE", "ABORT", "STOP")
    assert (points == 0) == (pv in NO_WRITES or safety), f"{pv}: {points} write points"


@pytest.mark.parametrize("pv", ["PAUSE", "ABORT", "STOP", "QUEUE:SKIP"])
def test_GIVEN_safety_action_WHEN_store_fails_THEN_carried_out_kept_and_stored_later(pv, logs):
    points = 0
    for state in STATES:
        for value in valid_values(pv):
            if not safety_action(pv, value, state):
                continue
            core, store, runner = build(state, logs)
            reply = core.control(pv, value, "tester")
            if not reply.ok:
                continue
            want = (core.run_state, runner.methods(), core.queue.ids(), store.transactions[0])
            core, store, runner = build(state, logs)
            stored = store.dump()
            store.arm(0)  # every write of the decision is refused: its commit fails
            reply = core.control(pv, value, "tester")
            where = f"{pv}={value!r} in {state}: {reply.message}"
            assert reply.ok and "not recorded yet" in reply.message, where
            assert (core.run_state, runner.methods(), core.queue.ids()) == want[:3], where
            assert DISK_FULL in core.last_error and DISK_FULL in core.status()["store_error"]
            assert store.dump() == stored, where  # nothing half-written
            store.arm(None)
            assert core.unsaved.retry(), where
            assert store.transactions[0][: len(want[3])] == want[3], where  # the same writes
            assert core.log_text().splitlines()[-2] in store.log_lines(1000), where
            assert core.unsaved.error is None and core.unsaved.calls == [], where
            points += 1
    assert points, f"{pv}: never a safety action"


def test_GIVEN_every_route_WHEN_driven_THEN_every_STATE_transition_is_made(logs):
    seen = set()

    def note(path):
        seen.update((a, b) for a, b in zip(path, path[1:]) if a != b)

    def drive(state, *steps, fail=None):
        core, store, runner = build(state, logs)
        runner.errors.update(fail or {})
        for step in steps:
            before, runner.states = core.run_state.value, []
            if isinstance(step, tuple):
                core.control(*step)
            else:
                core.on_job_event(core.current.id if core.current else 3, step)
            note([before, *runner.states, core.run_state.value])
        return core

    paused = {"type": "paused", "line": 1}
    done = {"type": "finished", "state": "DONE", "error": None, "exit_code": 0}
    drive("HELD", ("QUEUE:HOLD", 0))
    for state in RUNNING_STATES:
        drive(state, done)
    drive("RUNNING", ("PAUSE", 1), paused, {"type": "resumed"}, ("ABORT", 1))
    drive("RUNNING", paused, ("ABORT", 2))
    drive("PAUSING", ("RESUME", 1))
    drive("PAUSING", ("ABORT", 1))
    drive("PAUSED", ("ABORT", 1), fail={"abort": "no job is running"})
    drive("RUNNING", ("ABORT", 1), fail={"abort": "no job is running"})
    assert seen == TRANSITIONS


@pytest.mark.parametrize(
    ("state", "pv", "value", "method"),
    [
        ("RUNNING", "PAUSE", 1, "pause"),
        ("PAUSED", "RESUME", 1, "resume"),
        ("RUNNING", "ABORT", 1, "abort"),
        ("RUNNING", "QUEUE:UPDATE", EDIT, "edit"),
    ],
)
def test_GIVEN_committed_decision_WHEN_runner_call_fails_THEN_state_back_and_said(
    state, pv, value, method, logs
):
    core, store, runner = build(state, logs)
    runner.errors[method] = "no job is running"
    reply = core.control(pv, value, "tester")
    assert reply.ok and runner.methods() == [method]
    assert core.run_state.value == state and core._end_as is None and core._edit_waiting is None
    assert "was not carried out: no job is running" in core.last_error or (
        "was not sent: no job is running" in core.last_error
    )
    assert core.last_error in core.log_text()
    assert core.last_error in store.log_lines(1)[0]  # stored with the decision


def test_GIVEN_runner_cannot_start_WHEN_queue_released_THEN_job_failed_and_queue_held(logs):
    core, store, runner = build("HELD", logs)
    runner.errors["start"] = "job 2 is still running"
    assert core.control("QUEUE:HOLD", 0).ok
    assert runner.methods() == ["start"] and core.current is None and core.hold
    failed = core.history[0]
    assert (failed.id, failed.state.value, failed.error["type"]) == (3, "FAILED", "LaunchError")
    assert "job 2 is still running" in failed.error["message"]
    assert core.queue.ids() == list(range(4, 13))
    assert store.finished_job(3).state.value == "FAILED"


def test_GIVEN_store_full_WHEN_next_job_would_start_THEN_nothing_starts_and_queue_held(logs):
    core, store, runner = build("HELD", logs)
    store.arm(2)  # the release commits (2 writes); the start's first write fails
    reply = core.control("QUEUE:HOLD", 0)
    assert reply.ok and runner.calls == [] and core.current is None
    assert core.hold and core.queue.ids() == list(range(3, 13)) and DISK_FULL in core.last_error
    assert core.timers.pending() == [RETRY_SECONDS]  # it tries again then


def test_GIVEN_job_ends_WHEN_store_full_THEN_end_kept_in_memory(logs):
    core, store, runner = build("RUNNING", logs)
    store.arm(0)
    finish(core, 2, "FAILED")
    assert core.current is None and core.history[0].id == 2 and core.unsaved.jobs
    assert core.run_state.value == "IDLE" and DISK_FULL in core.last_error
    assert store.finished_job(2) is None  # not stored while the disk is full
    store.arm(None)  # space again: stored at the next retry, not before
    core.timers.advance(RETRY_SECONDS - 0.01)
    assert store.finished_job(2) is None and core.unsaved.jobs
    core.timers.advance(0.01)
    assert store.finished_job(2).state.value == "FAILED" and not core.unsaved.jobs


# -- QUEUE:UPDATE of the running job: its put completes when the job has the edit --------


def _edit_put(core: ScriptServer):
    """Write EDIT with a put callback: (reply published, completions so far, edit number)."""
    done: list = []
    completed = threading.Event()

    def on_done(reply) -> None:
        done.append(reply)
        completed.set()

    reply = core.control("QUEUE:UPDATE", EDIT, "tester", on_done=on_done)
    return reply, done, completed


def test_GIVEN_running_job_WHEN_edit_put_THEN_completes_on_the_jobs_receipt(logs):
    core, _, runner = build("RUNNING", logs)
    reply, done, _ = _edit_put(core)
    assert reply is not None and reply.ok, reply
    assert runner.methods() == ["edit"]
    assert core.replies_list()[0]["seq"] == reply.seq  # REPLY is published at once
    assert done == []  # the put waits for the job to have the edit
    number = runner.calls[0][1]["number"]
    core.on_job_event(2, {"type": "edit_received", "edit": number + 1})  # not this edit
    assert done == []
    core.on_job_event(2, {"type": "edit_received", "edit": number})
    assert done == [reply]
    core.on_job_event(2, {"type": "edited", "edit": number, "ok": True, "executed_end": 1})
    assert done == [reply]  # exactly once


def test_GIVEN_job_sending_no_receipt_WHEN_edit_put_THEN_completes_after_timeout(logs):
    core, _, _ = build("RUNNING", logs)
    reply, done, _ = _edit_put(core)
    assert reply.ok and done == []
    core.timers.advance(limits.EDIT_RECEIPT_TIMEOUT - 0.01)
    assert done == []  # no thread waits for it: a timer completes it
    core.timers.advance(0.01)
    assert done == [reply]
    core.on_job_event(2, {"type": "edited", "edit": 1, "ok": True, "executed_end": 1})
    assert done == [reply]


@pytest.mark.parametrize("how", ["edited", "finished", "not sent"])
def test_GIVEN_edit_put_waiting_WHEN_edited_or_job_ends_or_not_sent_THEN_completes(logs, how):
    core, _, runner = build("RUNNING", logs)
    if how == "not sent":
        runner.errors["edit"] = "no job is running"
    reply, done, _ = _edit_put(core)
    assert reply.ok
    if how == "edited":
        assert done == []
        number = runner.calls[0][1]["number"]
        core.on_job_event(2, {"type": "edited", "edit": number, "ok": False, "message": "no"})
    elif how == "finished":
        assert done == []
        finish(core, 2)
    assert done == [reply]
    assert core._edit_completion is None and core._edits_due == []
