"""Pre-flight of queued jobs without Channel Access: real dry runs, the core's policy."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from core_factory import make_core
from manual_clock import ManualTimers
from waiting import wait_until

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.store.sqlite import Store
from scriptserver_ioc.validate.preflight import PreflightWorker, preflight_record
from scriptserver_ioc.validate.validator import Validator

COMMANDS = Path(__file__).resolve().parent.parent / "commands"


class RecordingRunner:
    """Stands in for the JobRunner (job processes are tested elsewhere): records starts."""

    def __init__(self) -> None:
        self.started: list[int] = []

    def start(self, launch: dict) -> None:
        self.started.append(launch["job_id"])

    def close(self) -> None:
        pass


@pytest.fixture
def server(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    (tmp_path / "scripts").mkdir()
    commands = tmp_path / "commands"
    shutil.copytree(COMMANDS, commands)
    catalogue = Catalogue([commands])
    validator = Validator(catalogue, history=store, scripts_dir=tmp_path / "scripts")
    scripts = tmp_path / "scripts"
    clock = ManualTimers()  # time passes when a test advances it
    core = make_core(
        store, catalogue, validator, scripts_dir=scripts, logs_dir=tmp_path, timers=clock
    )
    core.control("QUEUE:HOLD", 1)
    runner = RecordingRunner()
    core.attach_runner(runner)
    # a job whose turn comes waits a minute of the clock for its verdict here (it never
    # passes unless a test advances it), so these tests see what a verdict does; a short
    # wait is tested below
    worker = PreflightWorker(core, validator, time_limit=5, wait=60.0)
    worker.start()
    core.test_runner = runner
    yield core
    worker.stop()
    store.close()


def add(core, value) -> list[int]:
    reply = core.control("QUEUE:ADD", json.dumps(value))
    assert reply.ok, reply.message
    return reply.job_ids


def verdict(core, job_id):
    job = core.queue.get(job_id)
    return (job.preflight or {}).get("verdict") if job else None


def finish(core, job_id, state="DONE"):
    core.on_job_event(job_id, {"type": "finished", "state": state, "error": None})


# -- the verdict of a dry-run result ---------------------------------------------------


def test_GIVEN_dry_run_results_WHEN_turned_into_verdicts_THEN_each_kind_named():
    ok = preflight_record({"ok": True, "estimate": 5.0, "notes": []}, [], 1)
    assert (ok["verdict"], ok["estimate"], ok["line"]) == ("ok", 5.0, None)
    warned = preflight_record({"ok": True, "estimate": 5.0, "notes": ["n"]}, [], 1)
    assert warned["verdict"] == "warnings" and warned["warnings"] == ["dry run: n"]
    assert preflight_record({"ok": True, "estimate": 1.0}, ["line 2: x"], 1)["verdict"] == (
        "warnings"
    )
    error = {"type": "NameError", "message": "NameError: name 'x'", "line": 4}
    fails = preflight_record({"ok": False, "estimate": None, "error": error}, [], 2)
    assert (fails["verdict"], fails["line"], fails["revision"]) == ("fails", 4, 2)
    assert fails["estimate"] is None and "name 'x'" in fails["message"]
    stuck = {"type": "DryRunTimeout", "message": "dry run stopped after 5 s", "line": 3}
    unknown = preflight_record({"ok": False, "error": stuck}, [], 1)
    assert unknown["verdict"] == "unknown" and "stopped" in unknown["message"]
    prelude = {"type": "ImportError", "message": "the prelude failed: ...", "line": None}
    assert preflight_record({"ok": False, "error": prelude}, [], 1)["verdict"] == "unknown"


# -- the background worker and the core's policy --------------------------------------


def test_GIVEN_queued_jobs_WHEN_preflighted_THEN_verdict_estimate_and_line_on_each(server):
    good, broken, endless = add(
        server,
        [
            {"script": "import time\ntime.sleep(120)\nprint('done')\n"},
            {"script": "x = 1\ny = x / 0\n"},
            {"script": "while True:\n    pass\n"},
        ],
    )
    wait_until(lambda: all(verdict(server, i) for i in (good, broken, endless)), timeout=60)
    record = server.queue.get(good).preflight
    assert record["verdict"] == "ok" and record["estimate"] == pytest.approx(120, abs=2)
    assert server.queue.get(good).estimate_source == "dry-run"
    assert server.queue.get(good).estimate == record["estimate"]
    record = server.queue.get(broken).preflight
    assert (record["verdict"], record["line"]) == ("fails", 2)
    assert "ZeroDivisionError" in record["message"]
    record = server.queue.get(endless).preflight
    assert record["verdict"] == "unknown" and "real time" in record["message"]
    assert server.finish_eta() == pytest.approx(0.0) and server.nothing_to_run()  # held
    assert server.queue_eta() >= 100
    server.control("QUEUE:HOLD", 0)
    assert server.test_runner.started == [good]
    assert server.finish_eta() >= 100  # the running job's remaining time from its pre-flight


def test_GIVEN_running_job_WHEN_next_one_fails_preflight_THEN_queue_holds_naming_it(server):
    server.control("QUEUE:HOLD", 0)
    first, broken, last = add(
        server, [{"script": "print(1)\n"}, {"script": "a = 1\nb = a[0]\n"}, {"script": "pass\n"}]
    )
    assert server.test_runner.started == [first]  # added to an idle queue: starts at once
    finish(server, first)  # its turn may come before its verdict: the queue waits for it
    wait_until(lambda: server.hold)
    assert server.test_runner.started == [first]
    assert f"queue held before job {broken}" in server.hold_reason
    assert "line 2" in server.hold_reason and "TypeError" in server.hold_reason
    assert server.status()["hold_reason"] == server.hold_reason
    assert server.queue.ids() == [broken, last]


def test_GIVEN_on_invalid_run_WHEN_failing_job_turn_THEN_it_starts(server):
    assert server.control("QUEUE:ON_INVALID", 1).ok
    assert not server.control("QUEUE:ON_INVALID", 2).ok
    (broken,) = add(server, {"script": "import nothing_of_that_name\n"})
    wait_until(lambda: verdict(server, broken) == "fails")
    server.control("QUEUE:HOLD", 0)
    assert server.test_runner.started == [broken]


def test_GIVEN_verdict_WHEN_job_edited_or_catalogue_changes_THEN_checked_again(server):
    (job_id,) = add(server, {"script": "print(undefined_name)\n"})
    wait_until(lambda: verdict(server, job_id) == "fails")
    assert server.control("QUEUE:UPDATE", json.dumps({"id": job_id, "script": "print(2)\n"})).ok
    wait_until(lambda: verdict(server, job_id) == "ok")
    first = server.queue.get(job_id).preflight
    (server.catalogue.dirs[0] / "extra.py").write_text("def extra():\n    pass\n")
    assert server.catalogue.reload(force=True)
    server.changed("commands")  # as the catalogue watcher does after a reload
    wait_until(lambda: server.queue.get(job_id).preflight["revision"] == server.catalogue.revision)
    second = server.queue.get(job_id).preflight
    assert second["catalogue"] != first["catalogue"] and second["checked"] >= first["checked"]


def test_GIVEN_preflight_under_way_WHEN_core_used_THEN_never_waits_for_the_dry_run(server):
    add(server, [{"script": f"x = {n}\n"} for n in range(3)])
    worker_busy, release = threading.Event(), threading.Event()
    original = server.validator.dry_run

    def held_dry_run(*args, **kwargs):  # a dry run that lasts until the test ends it
        worker_busy.set()
        release.wait(60)
        return original(*args, **kwargs)

    server.validator.dry_run = held_dry_run
    server.changed("queue")
    assert worker_busy.wait(10)
    replies: list = []

    def adds() -> None:
        for _ in range(20):
            replies.append(server.control("QUEUE:ADD", '{"script": "pass"}'))

    adding = threading.Thread(target=adds)
    adding.start()
    try:  # every add is answered while the dry run is still under way
        wait_until(lambda: len(replies) == 20)
        assert not release.is_set() and all(reply.ok for reply in replies)
    finally:
        release.set()
        adding.join()


def test_GIVEN_running_job_WHEN_paused_THEN_remaining_time_stops_and_finish_moves(server):
    (job_id,) = add(server, {"script": "import time\ntime.sleep(100)\n"})
    wait_until(lambda: verdict(server, job_id) == "ok")
    server.control("QUEUE:HOLD", 0)
    assert server.test_runner.started == [job_id]
    server.on_job_event(job_id, {"type": "line", "line": 2})  # in its 100 s sleep
    server.timers.advance(10)
    running = server.remaining()
    server.on_job_event(job_id, {"type": "paused"})
    server.timers.advance(30)  # paused: the job does no work, its remaining time stays
    assert server.remaining() == running
    server.on_job_event(job_id, {"type": "resumed"})
    server.timers.advance(20)
    assert server.remaining() == pytest.approx(running - 20)


def test_GIVEN_file_job_WHEN_file_edited_on_disk_THEN_checked_again_before_its_turn(
    server, tmp_path
):
    script = tmp_path / "scripts" / "night.py"
    script.write_text("import time\ntime.sleep(30)\n")
    (job_id,) = add(server, {"file": "night.py"})
    wait_until(lambda: verdict(server, job_id) == "ok")
    first = server.queue.get(job_id).preflight
    assert first["estimate"] == pytest.approx(30, abs=2)
    script.write_text("import time\ntime.sleep(30)\nprint(temperaturs)\n")  # an edit on disk
    wait_until(lambda: verdict(server, job_id) == "fails", timeout=30)  # found by the worker
    record = server.queue.get(job_id).preflight
    assert record["line"] == 3 and "temperaturs" in record["message"]
    assert record["source"] != first["source"]
    server.control("QUEUE:HOLD", 0)  # its turn: the script is read again (off the lock)
    wait_until(lambda: server.hold)
    assert f"queue held before job {job_id}" in server.hold_reason
    assert server.test_runner.started == []


def test_GIVEN_file_edited_just_before_its_turn_WHEN_released_THEN_waits_for_new_verdict(
    server, tmp_path
):
    script = tmp_path / "scripts" / "night.py"
    script.write_text("print('fine')\n")
    (job_id,) = add(server, {"file": "night.py"})
    wait_until(lambda: verdict(server, job_id) == "ok")
    server.preflight_worker.recheck_interval = 3600  # only the check at its turn sees it
    script.write_text("x = 1 / 0\n")
    server.control("QUEUE:HOLD", 0)  # its turn: the verdict no longer matches the file
    assert server.test_runner.started == []
    wait_until(lambda: server.hold)  # the new verdict says it fails
    assert server.test_runner.started == []
    assert "ZeroDivisionError" in server.hold_reason


def test_GIVEN_check_under_way_WHEN_turn_comes_THEN_job_starts_after_the_bound(server):
    """A check never delays a job longer than the worker's ``wait``; a late verdict is kept."""
    server.preflight_worker.wait = 0.3
    (job_id,) = add(server, {"script": "import time\nwhile True:\n    time.sleep(0.05)\n"})
    server.control("QUEUE:HOLD", 0)
    # its dry run can only end at its 5 s limit; the job starts when the wait is over
    assert server.test_runner.started == []
    server.timers.advance(0.3 + 0.01)  # (the timer looks again 10 ms after the bound)
    assert server.test_runner.started == [job_id]
    assert server.current.id == job_id and server.current.preflight is None
    wait_until(lambda: (server.current.preflight or {}).get("verdict") == "unknown")
    assert "stopped after 5 s" in server.current.preflight["message"]
    assert not server.hold and server.last_error == ""


def test_GIVEN_job_started_before_its_check_began_WHEN_worker_free_THEN_verdict_kept(server):
    """The worker is busy with another check when a job's turn comes: it is checked later."""
    server.preflight_worker.wait = 0.3
    first, second = add(server, [{"script": "while True:\n    pass\n"}, {"script": "1 / 0\n"}])
    server.control("QUEUE:HOLD", 0)
    server.timers.advance(0.31)  # the first's turn: its wait for a verdict is over
    assert server.test_runner.started == [first]
    finish(server, first)  # its check is still under way (until its 5 s limit)
    assert server.test_runner.started == [first]  # the second waits for its verdict
    server.timers.advance(0.31)
    assert server.test_runner.started == [first, second]
    assert server.current.id == second and server.current.preflight is None

    wait_until(lambda: (server.current.preflight or {}).get("verdict") == "fails")
    assert server.last_error.startswith(f"job {second} is running, but its pre-flight fails")
    assert server.current.id == second and not server.hold


FAILS_ONCE_FLAGGED = """\
import os, time
while not os.path.exists({flag!r}):
    time.sleep(0.005)  # (short sleeps are real in a dry run)
raise RuntimeError("a problem only the check finds")
"""


def test_GIVEN_job_ended_before_its_check_WHEN_fails_verdict_comes_THEN_kept_and_only_warns(
    server, tmp_path
):
    """A verdict that arrives after its job ended is its history record's (#18), in place."""
    server.preflight_worker.wait = 0.3
    flag = tmp_path / "job ended"
    earlier, job_id = add(
        server,
        [{"script": "print('earlier')\n"}, {"script": FAILS_ONCE_FLAGGED.format(flag=str(flag))}],
    )
    wait_until(lambda: verdict(server, earlier) == "ok")  # so `earlier` ends first in history
    server.control("QUEUE:HOLD", 0)
    finish(server, earlier)
    server.timers.advance(0.31)  # its dry run waits for the flag: the wait ends first
    assert server.test_runner.started == [earlier, job_id]
    finish(server, job_id)  # its dry run waits for the flag: it cannot have ended yet
    assert [job.id for job in server.history][:2] == [job_id, earlier]
    assert server.history[0].preflight is None and server.last_error == ""
    flag.write_text("")

    wait_until(lambda: server.history[0].preflight is not None, timeout=30)
    record = server.history[0].preflight
    assert (record["verdict"], record["line"]) == ("fails", 4), record
    assert "RuntimeError: a problem only the check finds" in record["message"]
    stored = server.store.finished_job(job_id)
    assert stored.preflight == record and stored.state.value == "DONE"
    # its place in the history is kept: it is still the newest finished job, also stored
    assert [job.id for job in server.store.history(2)] == [job_id, earlier]
    warning = f"job {job_id} ended DONE, but its pre-flight fails at line 4"
    assert server.last_error.startswith(warning)
    assert any(warning in line for line in server.event_log)
    assert any(warning in line for line in server.store.log_lines(20))
    assert not server.hold and server.current is None
