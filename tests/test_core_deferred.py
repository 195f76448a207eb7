"""Slow parts of control writes run on the core's worker, outside the core lock.

The worker here is manual: a test decides when the slow part runs, and changes the queue
or the catalogue in between, as another client or the catalogue watcher would.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

from core_factory import make_core

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.core.server import MAX_REDECIDE, ScriptServer
from scriptserver_ioc.host import SerialWorker
from scriptserver_ioc.store.sqlite import Store
from scriptserver_ioc.validate.validator import Validator

COMMANDS = Path(__file__).resolve().parent.parent / "commands"
SCRIPT = '{"script": "x = 1"}'
"""A job whose check (static analysis of the script) is done on the worker."""


class ManualWorker:
    """Holds tasks until `run()`."""

    def __init__(self) -> None:
        self.tasks: list = []

    def __call__(self, task) -> None:
        self.tasks.append(task)

    def run(self) -> int:
        ran = 0
        while self.tasks:
            self.tasks.pop(0)()
            ran += 1
        return ran


def make_server(tmp_path: Path, worker) -> tuple[ScriptServer, Store, Validator]:
    store = Store(tmp_path / "db.sqlite")
    shutil.copytree(COMMANDS, tmp_path / "commands", ignore=shutil.ignore_patterns("__py*"))
    catalogue = Catalogue([tmp_path / "commands"])
    validator = Validator(catalogue, history=store)
    server = make_core(store, catalogue, validator, logs_dir=tmp_path, worker=worker)
    server.control("QUEUE:HOLD", 1)
    return server, store, validator


def test_GIVEN_add_WHEN_check_pending_THEN_nothing_changed_until_decided_then_done_once(
    tmp_path,
):
    worker = ManualWorker()
    server, store, _ = make_server(tmp_path, worker)
    done = []
    assert server.control("QUEUE:ADD", SCRIPT, "u@h", on_done=done.append) is None
    assert len(server.queue) == 0 and store.queued_jobs() == [] and done == []
    assert server.status()["queue_count"] == 0  # reads answer while the check is pending
    worker.run()
    assert [reply.ok for reply in done] == [True]
    assert server.queue.ids() == done[0].job_ids
    assert [job.id for job, _ in store.queued_jobs()] == done[0].job_ids


def edit_commands(server: ScriptServer) -> None:
    """What an instrument scientist saving a command module does, and the watcher's reload."""
    before = server.catalogue.revision
    module = server.catalogue.dirs[0] / "extra.py"
    count = len(module.read_text().split("def ")) if module.exists() else 1
    with module.open("a") as out:
        out.write(f"def extra_{count}():\n    pass\n")
    server.catalogue.reload(force=True)
    assert server.catalogue.revision != before


def test_GIVEN_catalogue_changes_during_check_WHEN_committed_THEN_decided_again(tmp_path):
    worker = ManualWorker()
    server, _, validator = make_server(tmp_path, worker)
    checks = []
    real = validator.check_many

    def check_many(jobs):
        checks.append(jobs)
        if len(checks) == 1:  # the watcher reloads the catalogue while the first check runs
            edit_commands(server)
        return real(jobs)

    validator.check_many = check_many
    done = []
    server.control("QUEUE:ADD", SCRIPT, on_done=done.append)
    worker.run()
    assert len(checks) == 2 and done[0].ok and len(server.queue) == 1


def test_GIVEN_catalogue_keeps_changing_WHEN_checked_THEN_refused_without_trace(tmp_path):
    worker = ManualWorker()
    server, store, validator = make_server(tmp_path, worker)
    real = validator.check_many

    def check_many(jobs):
        edit_commands(server)
        return real(jobs)

    validator.check_many = check_many
    done = []
    server.control("QUEUE:ADD", SCRIPT, on_done=done.append)
    assert worker.run() == MAX_REDECIDE + 1
    assert not done[0].ok and "kept changing" in done[0].message
    assert len(server.queue) == 0 and store.queued_jobs() == []
    assert server.last_error == done[0].message


def test_GIVEN_update_pending_WHEN_job_removed_meanwhile_THEN_update_refused(tmp_path):
    worker = ManualWorker()
    server, store, _ = make_server(tmp_path, worker)
    server.control("QUEUE:ADD", SCRIPT)
    worker.run()
    (job_id,) = server.queue.ids()
    done = []
    server.control("QUEUE:UPDATE", json.dumps({"id": job_id, "script": "x = 2"}), "", done.append)
    assert server.control("QUEUE:REMOVE", str(job_id)).ok  # another client, not deferred
    worker.run()
    assert not done[0].ok and f"job {job_id} is not queued" in done[0].message
    assert len(server.queue) == 0 and store.queued_jobs() == []


def test_GIVEN_check_raises_WHEN_decided_THEN_internal_error_and_nothing_changed(tmp_path):
    worker = ManualWorker()
    server, store, validator = make_server(tmp_path, worker)

    def broken(jobs):
        raise RuntimeError("checker pipe broke")

    validator.check_many = broken
    done = []
    server.control("QUEUE:ADD", SCRIPT, on_done=done.append)
    worker.run()
    assert not done[0].ok and "internal error" in done[0].message
    assert "checker pipe broke" in done[0].message
    assert len(server.queue) == 0 and store.queued_jobs() == []


def test_GIVEN_slow_check_on_serial_worker_WHEN_other_writes_and_reads_THEN_not_blocked(
    tmp_path,
):
    worker = SerialWorker()
    server, _, validator = make_server(tmp_path, worker)
    release = threading.Event()
    started = threading.Event()
    real = validator.check_many

    def slow(jobs):
        started.set()
        assert release.wait(10)
        return real(jobs)

    validator.check_many = slow
    done = threading.Event()
    server.control("QUEUE:ADD", SCRIPT, on_done=lambda reply: done.set())
    assert started.wait(10)
    # the check is running on the worker: the core lock is free for everyone else
    assert server.lock.acquire(timeout=1)
    server.lock.release()
    assert server.control("QUEUE:ON_ERROR", 1).ok
    assert server.status()["queue_count"] == 0
    release.set()
    assert done.wait(10) and len(server.queue) == 1
    worker.close()


def test_GIVEN_command_without_companions_WHEN_added_THEN_decided_at_once_without_worker(
    tmp_path,
):
    worker = ManualWorker()
    server, _, _ = make_server(tmp_path, worker)  # no companion runner: set_ei is quick
    done = []
    reply = server.control("QUEUE:ADD", "set_ei(25)", on_done=done.append)
    assert reply is not None and reply.ok and done == [reply]
    assert worker.tasks == [] and server.queue.ids() == reply.job_ids
