"""`file` jobs' scripts: read off the core lock, carried in the job (issue #21).

The core reads a `file` job's script only through its `JobFiles` port, never with its lock
held: once when the job is added, and once more when its turn comes, so an edit of the file
while the job waits is what runs. The port here is the IOC's own (`host.JobFolders`),
watched: each read records whether the reading thread held the core's lock.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from core_factory import make_core
from waiting import wait_until

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.host import JobFolders
from scriptserver_ioc.store.sqlite import Store
from scriptserver_ioc.validate.validator import Validator

COMMANDS = Path(__file__).resolve().parent.parent / "commands"


class WatchedFolders(JobFolders):
    """The IOC's `JobFiles`, recording each script read and whether the core lock was held."""

    core = None

    def __init__(self, scripts_dir: Path) -> None:
        super().__init__(scripts_dir)
        self.reads: list[tuple[str, bool]] = []

    def read_script(self, name, recheck=False):
        self.reads.append((name, self.core.lock._is_owned()))
        return super().read_script(name, recheck)


class LaunchRecorder:
    """Stands in for the JobRunner (job processes are tested elsewhere): keeps launches."""

    def __init__(self) -> None:
        self.launches: list[dict] = []

    def start(self, launch: dict) -> None:
        self.launches.append(launch)


@pytest.fixture
def server(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    store = Store(tmp_path / "db.sqlite")
    catalogue = Catalogue([COMMANDS])
    validator = Validator(catalogue, history=store, scripts_dir=scripts)
    files = WatchedFolders(scripts)
    core = make_core(store, catalogue, validator, logs_dir=tmp_path, files=files)
    files.core = core
    core.runner_for_test = LaunchRecorder()
    core.attach_runner(core.runner_for_test)
    yield core
    store.close()


def add(server, value) -> list[int]:
    reply = server.control("QUEUE:ADD", json.dumps(value))
    assert reply.ok, reply.message
    return reply.job_ids


def test_GIVEN_held_queue_WHEN_file_job_added_THEN_read_once_off_the_lock_and_carried(
    server, tmp_path
):
    (tmp_path / "scripts" / "scan.py").write_text("x = 1\n", encoding="utf-8")
    server.control("QUEUE:HOLD", 1)
    (job_id,) = add(server, {"file": "scan.py"})
    assert server.files.reads == [("scan.py", False)]
    job = server.queue.get(job_id)
    assert job.file_text.text == "x = 1\n"
    assert job.file_text.path == str((tmp_path / "scripts" / "scan.py").resolve())
    assert "file_text" not in json.loads(job.json_text())  # not part of the record

    reply = server.control("QUEUE:REPEAT", str(job_id))  # copies carry the text: no read
    assert reply.ok, reply.message
    assert server.files.reads == [("scan.py", False)]
    assert {server.queue.get(i).file_text.text for i in server.queue.ids()} == {"x = 1\n"}


def test_GIVEN_file_edited_while_queued_WHEN_its_turn_comes_THEN_the_edit_runs(server, tmp_path):
    script = tmp_path / "scripts" / "scan.py"
    script.write_text("x = 1\n", encoding="utf-8")
    server.control("QUEUE:HOLD", 1)
    (job_id,) = add(server, {"file": "scan.py"})
    script.write_text("x = 2  # corrected while it waited\n", encoding="utf-8")

    assert server.control("QUEUE:HOLD", 0).ok
    (launch,) = wait_until(lambda: server.runner_for_test.launches)
    assert launch["job_id"] == job_id
    assert launch["source"] == "x = 2  # corrected while it waited\n"
    assert launch["filename"] == str(script.resolve())
    assert server.current_source == launch["source"]
    assert server.files.reads == [("scan.py", False), ("scan.py", False)]


def test_GIVEN_idle_queue_WHEN_file_job_added_THEN_starts_at_once_with_the_one_read(
    server, tmp_path
):
    (tmp_path / "scripts" / "scan.py").write_text("x = 1\n", encoding="utf-8")
    (job_id,) = add(server, {"file": "scan.py"})
    (launch,) = server.runner_for_test.launches  # the write's own read serves the start
    assert launch["job_id"] == job_id and launch["source"] == "x = 1\n"
    assert server.files.reads == [("scan.py", False)]


def test_GIVEN_file_removed_while_queued_WHEN_its_turn_comes_THEN_job_fails_saying_why(
    server, tmp_path
):
    script = tmp_path / "scripts" / "scan.py"
    script.write_text("x = 1\n", encoding="utf-8")
    server.control("QUEUE:HOLD", 1)
    (job_id,) = add(server, {"file": "scan.py"})
    script.unlink()

    assert server.control("QUEUE:HOLD", 0).ok
    wait_until(lambda: server.history and server.history[0].id == job_id)
    job = server.history[0]
    assert job.state.value == "FAILED" and job.error["type"] == "LaunchError"
    assert "'scan.py' does not exist in the scripts directory" in job.error["message"]
    assert server.runner_for_test.launches == []
    assert all(not locked for _, locked in server.files.reads)


def test_GIVEN_missing_file_WHEN_added_or_validated_THEN_refused_naming_it_nothing_queued(server):
    server.control("QUEUE:HOLD", 1)
    reply = server.control("QUEUE:ADD", json.dumps([{"call": "set_ei(1)"}, {"file": "nope.py"}]))
    assert not reply.ok
    assert "batch item 1: the file 'nope.py' does not exist in the scripts directory" in (
        reply.message
    )
    assert len(server.queue) == 0

    assert server.control("VALIDATE", '{"file": "nope.py"}').ok
    result = server.validate_result
    assert not result["ok"] and "'nope.py' does not exist" in result["errors"][0]["message"]
    assert server.files.reads == [("nope.py", False), ("nope.py", False)]
