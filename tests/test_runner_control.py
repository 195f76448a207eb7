"""JobRunner pause, resume and abort with real job processes."""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import time

import pytest
from test_runner_support import cpu_time, launch, log_text, process_gone, stopped, write_module
from waiting import wait_until

GATE = (
    "import os, time\n\ndef wait_for(path):\n    while not os.path.exists(path):\n"
    "        time.sleep(0.2)\n"
)
"""A command without pause points that returns once `path` exists. It looks every 0.2 s, so
that a control message sent just before the test creates the file has reached the job
(well under a millisecond) before the command returns: nothing in the job can say so."""


def _gate(tmp_path):
    commands = tmp_path / "commands"
    path = write_module(commands, "gate", GATE)
    entry = {"name": "wait_for", "module": "gate", "path": str(path), "kind": "function"}
    return commands, [entry]


def _child_pid(entry) -> int:
    wait_until(lambda: re.search(r"CHILD (\d+)\n", log_text(entry)))  # the whole line
    return int(re.search(r"CHILD (\d+)\n", log_text(entry)).group(1))


def test_GIVEN_job_in_a_command_WHEN_deferred_pause_THEN_pauses_at_next_line_and_resumes(
    make_runner, tmp_path
):
    commands, cmds = _gate(tmp_path)
    go = tmp_path / "go"
    runner, events = make_runner(command_dirs=[commands])
    source = f"x = 1\nwait_for({str(go)!r})\nprint('line three')\ny = 2\n"
    entry = launch(make_runner.data_dir, 1, source, commands=cmds)
    runner.start(entry)
    events.wait(1, "line", where=lambda e: e["line"] == 2)

    assert runner.pause(immediate=False) is None
    assert "already requested" in runner.pause(immediate=False)
    go.touch()
    paused = events.wait(1, "paused")

    assert paused["line"] == 3
    assert "line three" not in log_text(entry)
    assert "already paused" in runner.pause(immediate=False)
    assert runner.resume() is None
    events.wait(1, "resumed")
    assert events.wait(1, "finished")["state"] == "DONE"
    assert "line three" in log_text(entry)
    assert runner.resume() == "no job is running"


def test_GIVEN_job_in_scriptserver_sleep_WHEN_paused_then_soft_aborted_THEN_aborted_at_once(
    make_runner,
):
    runner, events = make_runner()
    source = "import scriptserver\nscriptserver.sleep(60)\nprint('after sleep')\n"
    entry = launch(make_runner.data_dir, 2, source)
    runner.start(entry)
    events.wait(2, "line", where=lambda e: e["line"] == 2)

    assert runner.pause(immediate=False) is None
    assert events.wait(2, "paused")["line"] == 2
    assert runner.abort(kill=False) is None
    finished = events.wait(2, "finished", timeout=4.0)  # well before abort_grace (5 s)

    assert finished["state"] == "ABORTED"
    assert finished["error"]["type"] == "JobAborted"
    assert "after sleep" not in log_text(entry)


def test_GIVEN_cpu_bound_job_WHEN_immediate_pause_THEN_process_stopped_until_resume(make_runner):
    runner, events = make_runner()
    runner.start(launch(make_runner.data_dir, 3, "x = 0\nwhile True:\n    x += 1\n"))
    pid = events.wait(3, "started")["pid"]
    events.wait(3, "line")

    assert runner.pause(immediate=True) is None
    assert events.wait(3, "paused")["immediate"] is True
    # SIGSTOP takes effect when the process is next scheduled (later on a loaded machine)
    wait_until(lambda: stopped(pid))
    before = cpu_time(pid)
    time.sleep(0.3)  # an observation window (no CPU time is used in it), not synchronising
    assert stopped(pid) and cpu_time(pid) == before
    assert "already paused" in runner.pause(immediate=True)

    assert runner.resume() is None
    events.wait(3, "resumed")
    wait_until(lambda: cpu_time(pid) > before + 0.1)
    assert runner.abort(kill=True) is None
    finished = events.wait(3, "finished")
    assert finished["state"] == "ABORTED"
    assert finished["exit_code"] == -signal.SIGKILL


def test_GIVEN_blackbox_job_with_child_WHEN_immediate_pause_THEN_whole_tree_stopped(
    make_runner,
):
    runner, events = make_runner(abort_grace=3.0)
    source = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'while True: pass'])\n"
        "print('CHILD', child.pid, flush=True)\n"
        "x = 0\n"
        "while True:\n"
        "    x += 1\n"
    )
    entry = launch(make_runner.data_dir, 4, source, blackbox=True)
    runner.start(entry)
    pid = events.wait(4, "started")["pid"]
    child = _child_pid(entry)

    assert "black-box" in runner.pause(immediate=False)
    assert runner.pause(immediate=True) is None
    events.wait(4, "paused")
    wait_until(lambda: stopped(pid) and stopped(child))  # (see the test above)
    before = (cpu_time(pid), cpu_time(child))
    time.sleep(0.3)  # an observation window (no CPU time is used in it), not synchronising
    assert stopped(pid) and stopped(child)
    assert (cpu_time(pid), cpu_time(child)) == before

    assert runner.abort(kill=False) is None  # resumes, terminates the tree
    finished = events.wait(4, "finished")
    assert finished["state"] == "ABORTED"
    wait_until(lambda: process_gone(child))


@pytest.mark.parametrize("pause_first", [False, True], ids=["running", "suspended"])
def test_GIVEN_job_with_finally_WHEN_soft_abort_THEN_finally_block_runs(make_runner, pause_first):
    runner, events = make_runner()
    source = (
        "import time\n"
        "try:\n"
        "    while True:\n"
        "        time.sleep(0.01)\n"
        "finally:\n"
        "    print('cleanup ran', flush=True)\n"
    )
    entry = launch(make_runner.data_dir, 5, source)
    runner.start(entry)
    events.wait(5, "line", where=lambda e: e["line"] == 4)
    if pause_first:
        assert runner.pause(immediate=True) is None

    assert runner.abort(kill=False) is None
    assert "already being aborted" in runner.abort(kill=False)
    finished = events.wait(5, "finished", timeout=4.0)  # well before abort_grace (5 s)

    assert finished["state"] == "ABORTED"
    assert finished["error"]["type"] == "JobAborted"
    assert finished["exit_code"] == 2
    assert "cleanup ran" in log_text(entry)


SIGTERM_PROOF = (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "code = 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'\n"
    "child = subprocess.Popen([sys.executable, '-c', code])\n"
    "print('CHILD', child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def test_GIVEN_job_ignoring_sigterm_with_child_WHEN_killed_THEN_no_process_left(make_runner):
    runner, events = make_runner()
    entry = launch(make_runner.data_dir, 6, SIGTERM_PROOF)
    runner.start(entry)
    pid = events.wait(6, "started")["pid"]
    child = _child_pid(entry)

    assert runner.abort(kill=True) is None
    finished = events.wait(6, "finished")

    assert finished["state"] == "ABORTED"
    assert process_gone(pid)
    wait_until(lambda: process_gone(child))


ABORT_PROOF = SIGTERM_PROOF.rsplit("time.sleep(60)", 1)[0] + (
    "while True:\n    try:\n        time.sleep(60)\n    except BaseException:\n        pass\n"
)


def test_GIVEN_job_ignoring_abort_and_sigterm_WHEN_soft_abort_THEN_escalates_to_kill(
    make_runner, caplog
):
    runner, events = make_runner(abort_grace=0.3, terminate_grace=0.3)
    entry = launch(make_runner.data_dir, 7, ABORT_PROOF)
    runner.start(entry)
    child = _child_pid(entry)
    events.wait(7, "line", where=lambda e: e["line"] == 8)

    caplog.set_level(logging.WARNING, logger="scriptserver_ioc.runner")
    assert runner.abort(kill=False) is None
    finished = events.wait(7, "finished")

    # each grace was given in turn: SIGTERM after the soft abort's, SIGKILL after SIGTERM's
    steps = [r.getMessage() for r in caplog.records if r.getMessage().startswith("job 7 ")]
    assert steps == [
        "job 7 did not end 0.3 s after a soft abort: terminating it",
        "job 7 is still running after SIGTERM: killing it",
    ]
    assert finished["state"] == "ABORTED"
    assert finished["exit_code"] == -signal.SIGKILL
    assert "while being aborted" in finished["error"]["message"]
    wait_until(lambda: process_gone(child))


def test_GIVEN_running_job_WHEN_killed_from_outside_THEN_failed_with_signal(
    make_runner,
):
    runner, events = make_runner()
    runner.start(
        launch(make_runner.data_dir, 8, "import time\nwhile True:\n    time.sleep(0.01)\n")
    )
    pid = events.wait(8, "started")["pid"]
    events.wait(8, "line")

    os.kill(pid, signal.SIGKILL)
    finished = events.wait(8, "finished")  # (how soon: bench/bench_runner.py)

    assert finished["state"] == "FAILED"
    assert finished["error"]["type"] == "ProcessExit"
    assert "killed by signal 9" in finished["error"]["message"]
    assert finished["exit_code"] == -9


def test_GIVEN_job_calling_os_exit_WHEN_run_THEN_failed_with_exit_code(make_runner):
    runner, events = make_runner()
    runner.start(launch(make_runner.data_dir, 9, "import os\nos._exit(7)\n"))

    finished = events.wait(9, "finished")

    assert finished["state"] == "FAILED"
    assert "exited with code 7" in finished["error"]["message"]


def test_GIVEN_done_job_leaving_a_child_WHEN_finished_THEN_child_is_killed(make_runner):
    runner, events = make_runner()
    source = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('CHILD', child.pid, flush=True)\n"
    )
    entry = launch(make_runner.data_dir, 10, source)
    runner.start(entry)

    assert events.wait(10, "finished")["state"] == "DONE"
    child = _child_pid(entry)
    wait_until(lambda: process_gone(child))


def test_GIVEN_no_job_WHEN_controlled_THEN_clear_errors(make_runner):
    runner, _ = make_runner()
    assert runner.pause(immediate=False) == "no job is running"
    assert runner.pause(immediate=True) == "no job is running"
    assert runner.resume() == "no job is running"
    assert runner.abort(kill=False) == "no job is running"


def test_GIVEN_genie_wait_loop_WHEN_deferred_pause_THEN_check_break_is_a_pause_point(
    make_runner, tmp_path
):
    commands = tmp_path / "commands"
    path = write_module(
        commands,
        "genie_wait",
        "import os, time\n"
        "from genie_python.utilities import check_break\n\n"
        "def wait_with_genie(path):\n"
        "    while not os.path.exists(path):\n"
        "        check_break(2)\n"
        "        time.sleep(0.01)\n",
    )
    go = tmp_path / "go"
    runner, events = make_runner(command_dirs=[commands], job_python=sys.executable)
    cmds = [
        {"name": "wait_with_genie", "module": "genie_wait", "path": str(path), "kind": "function"}
    ]
    entry = launch(
        make_runner.data_dir,
        11,
        f"x = 1\nwait_with_genie({str(go)!r})\nprint('after')\n",
        commands=cmds,
    )
    runner.start(entry)
    events.wait(11, "line", where=lambda e: e["line"] == 2)

    assert runner.pause(immediate=False) is None
    paused = events.wait(11, "paused")  # inside genie's loop: the gate file does not exist

    assert paused["line"] == 2
    go.touch()
    assert runner.resume() is None
    assert events.wait(11, "finished")["state"] == "DONE"
    assert "after" in log_text(entry)


@pytest.mark.parametrize("imported_by", ["prelude", "job"])
def test_GIVEN_genie_command_failing_WHEN_run_THEN_exception_raised_and_job_failed(
    make_runner, tmp_path, imported_by
):
    prelude = None
    source = "g.waitfor_time(seconds=-1)\nprint('not reached')\n"
    if imported_by == "prelude":
        prelude = tmp_path / "prelude.py"
        prelude.write_text("from genie_python import genie as g\n", encoding="utf-8")
    else:
        source = "from genie_python import genie as g\n" + source
    runner, events = make_runner(prelude=prelude, job_python=sys.executable)  # has genie
    entry = launch(make_runner.data_dir, 12, source)
    runner.start(entry)

    finished = events.wait(12, "finished", timeout=30)

    assert finished["state"] == "FAILED", finished
    assert finished["error"]["type"] == "ValueError"
    assert "not reached" not in log_text(entry)


def test_GIVEN_running_script_WHEN_edit_sent_THEN_job_sends_receipt_before_it_is_applied(
    make_runner, tmp_path
):
    # the receipt (edit_received) means the edit waits in the job: the server completes the
    # QUEUE:UPDATE put on it, so opening the gate after it can never run the old lines
    go = tmp_path / "go"
    runner, events = make_runner()
    head = f"import os, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
    entry = launch(make_runner.data_dir, 1, head + "print('old', flush=True)\n")
    runner.start(entry)
    events.wait(1, "line", where=lambda e: e["line"] == 2)

    assert runner.edit(7, head + "print('new', flush=True)\n") is None
    assert events.wait(1, "edit_received")["edit"] == 7
    assert not events.of(1, "edited")  # registered, not yet applied
    go.touch()
    edited = events.wait(1, "edited")
    assert edited["edit"] == 7 and edited["ok"] is True
    assert events.wait(1, "finished")["state"] == "DONE"
    assert "new" in log_text(entry) and "old" not in log_text(entry)


def test_GIVEN_blackbox_script_WHEN_edit_sent_THEN_refused_at_once_with_receipt(
    make_runner, tmp_path
):
    go = tmp_path / "go"
    runner, events = make_runner()
    source = f"import os, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
    entry = launch(make_runner.data_dir, 1, source, blackbox=True)
    runner.start(entry)
    events.wait(1, "started")
    assert runner.edit(3, "print(1)\n") is None
    assert events.wait(1, "edit_received")["edit"] == 3
    edited = events.of(1, "edited")  # refused before the receipt: the job cannot edit
    assert [(e["edit"], e["ok"]) for e in edited] == [(3, False)]
    go.touch()
    assert events.wait(1, "finished")["state"] == "DONE"
