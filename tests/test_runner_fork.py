"""Job processes forked from a warm fork server (POSIX; runner/forking.py, job/forkserver.py)."""

from __future__ import annotations

import os
import signal

import psutil
import pytest
from test_runner_support import launch, log_text, write_module
from waiting import wait_until

from scriptserver_ioc.job import forkserver

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the fork server is POSIX only")


def _ready(runner) -> int:
    wait_until(lambda: runner.fork_server_pid is not None, timeout=30)
    return runner.fork_server_pid


def _parent(pid: int) -> int:
    return psutil.Process(pid).ppid()


def test_GIVEN_fork_server_ready_WHEN_jobs_run_THEN_forked_in_own_session_with_status(
    make_runner,
):
    runner, events = make_runner()
    server = _ready(runner)
    source = "import os\nprint('session', os.getsid(0), 'parent', os.getppid())\n"
    runner.start(launch(make_runner.data_dir, 1, source))
    started = events.wait(1, "started")
    finished = events.wait(1, "finished")

    assert started["handle"]["forked"] is True
    assert finished["state"] == "DONE" and finished["exit_code"] == 0
    log = log_text(launch(make_runner.data_dir, 1, ""))
    assert f"session {started['pid']} parent {server}" in log

    runner.start(launch(make_runner.data_dir, 2, "import os\nos._exit(7)\n"))
    finished = events.wait(2, "finished")  # no result: the status comes from the fork server
    assert finished["exit_code"] == 7
    assert finished["error"]["message"] == "the job process exited with code 7"

    runner.start(launch(make_runner.data_dir, 3, "import time\ntime.sleep(60)\n"))
    pid = events.wait(3, "started")["pid"]
    events.wait(3, "line", where=lambda e: e["line"] == 2)
    os.kill(pid, signal.SIGKILL)
    finished = events.wait(3, "finished")
    assert finished["state"] == "FAILED"
    assert "killed by signal 9 (SIGKILL)" in finished["error"]["message"]


def test_GIVEN_warm_spare_WHEN_fork_server_ready_THEN_next_spare_is_forked(make_runner):
    runner, events = make_runner(warm_spare=True)
    server = _ready(runner)
    runner.start(launch(make_runner.data_dir, 1, "x = 1\n"))  # maybe the first, spawned spare
    events.wait(1, "finished")
    wait_until(lambda: runner.spare_pid is not None and _parent(runner.spare_pid) == server)

    runner.start(launch(make_runner.data_dir, 2, "import os\nprint('parent', os.getppid())\n"))
    events.wait(2, "finished")
    assert f"parent {server}" in log_text(launch(make_runner.data_dir, 2, ""))


def test_GIVEN_fork_server_off_WHEN_job_runs_THEN_spawned_by_the_runner(make_runner):
    runner, events = make_runner(fork_server=False)
    runner.start(launch(make_runner.data_dir, 1, "x = 1\n"))

    started = events.wait(1, "started")
    assert events.wait(1, "finished")["state"] == "DONE"
    assert runner.fork_server_pid is None
    assert started["handle"]["forked"] is False


def test_GIVEN_forked_job_running_WHEN_runner_closed_and_new_one_adopts_THEN_reported_to_end(
    make_runner, tmp_path
):
    go = tmp_path / "go"
    runner, events = make_runner()
    server = _ready(runner)
    source = f"import os, time\nwhile not os.path.exists({str(go)!r}):\n    time.sleep(0.01)\n"
    runner.start(launch(make_runner.data_dir, 1, source))
    started = events.wait(1, "started")
    events.wait(1, "line", where=lambda e: e["line"] in (2, 3))

    runner.close()  # the IOC stops: the fork server goes, the job lives on
    wait_until(lambda: not psutil.pid_exists(server) or _zombie(server))
    assert psutil.Process(started["pid"]).is_running()
    second, second_events = make_runner()
    second.adopt(1, started["handle"], started["handle"]["log_path"])
    go.touch()

    assert second_events.wait(1, "finished")["state"] == "DONE"


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_GIVEN_command_importing_a_module_that_starts_a_thread_THEN_not_imported_ahead(
    make_runner, tmp_path
):
    commands = tmp_path / "commands"
    site = tmp_path / "site"
    write_module(
        site,
        "threaded_lib",
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n",
    )
    write_module(site, "quiet_lib", "VALUE = 1\n")
    write_module(
        commands, "tool", "import quiet_lib\nimport threaded_lib\n\ndef tool():\n    pass\n"
    )
    runner, events = make_runner(command_dirs=[commands], env={"PYTHONPATH": str(site)})
    _ready(runner)

    info = runner._forker._server.info
    assert info["excluded"] == ["threaded_lib"]
    assert "quiet_lib" in info["imported"]
    runner.start(launch(make_runner.data_dir, 1, "import threaded_lib\nprint('ok')\n"))
    assert events.wait(1, "finished")["state"] == "DONE"


def test_GIVEN_command_files_WHEN_dependencies_read_THEN_own_modules_left_out(tmp_path):
    write_module(tmp_path, "alpha", "import os.path\nfrom beta import x\nfrom . import y\n")
    write_module(tmp_path, "beta", "import json\nfrom __future__ import annotations\n")
    (tmp_path / "pkg").mkdir()
    write_module(tmp_path / "pkg", "__init__", "import pkg.sub\nimport csv\n")

    assert forkserver.dependencies([str(tmp_path)], None) == ["csv", "json", "os.path"]


def test_GIVEN_idle_spare_WHEN_commands_known_THEN_imported_ahead_after_a_wait(
    make_runner, tmp_path
):
    commands = tmp_path / "commands"
    marks = tmp_path / "marks"
    marks.mkdir()
    text = f"import os\nopen(os.path.join({str(marks)!r}, str(os.getpid())), 'w').close()\n"
    path = write_module(commands, "marker", text + "def mark():\n    pass\n")
    entry = {"name": "mark", "module": "marker", "path": str(path), "kind": "function"}
    runner, events = make_runner(command_dirs=[commands], warm_spare=True)
    runner.start(launch(make_runner.data_dir, 1, "x = 1\n", commands=[entry]))
    events.wait(1, "finished")
    wait_until(lambda: runner.wait_for_spare(0.1) and runner.spare_pid is not None)
    spare = runner.spare_pid  # it knows the commands now (the last job's)

    wait_until(lambda: (marks / str(spare)).exists())  # imported while idle, no job asked
    runner.start(launch(make_runner.data_dir, 2, "mark()\n", commands=[entry]))
    assert events.wait(2, "finished")["state"] == "DONE"
    assert sorted(p.name for p in marks.iterdir()) == [str(spare)]  # not imported again
