"""A new user's first hour, as they meet it: the demo, progress, names and the console tool.

One IOC for the module, started as a fresh install has it: genie_python cannot be imported
by the jobs (a module on PYTHONPATH stands in for its absence), and a second commands
directory holds a module that cannot be imported, as an instrument's often does. Each test
leaves that IOC held, idle and with an empty queue.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import IOC, ROOT, _end_jobs_of, settle_preflights, wait_until

from scriptserver_ioc.client.client import ScriptServerClient
from scriptserver_ioc.client.watch import Watcher
from scriptserver_ioc.core.jobs import parse_iso

NO_GENIE = "raise ImportError(\"No module named 'genie_python' (a default install has none)\")\n"
BROKEN_MODULE = (
    'import mantid_is_not_installed_here\n\n\ndef reduce_run(run: int):\n    """Reduces a run."""\n'
)


@pytest.fixture(scope="module")
def demo_ioc(tmp_path_factory):
    """The IOC of a fresh install: demo commands, no genie_python in the jobs."""
    base = tmp_path_factory.mktemp("first-hour")
    hidden = base / "no-genie"
    hidden.mkdir()
    (hidden / "genie_python.py").write_text(NO_GENIE)
    more = base / "more-commands"
    more.mkdir()
    (more / "needs_mantid.py").write_text(BROKEN_MODULE)
    path = os.pathsep.join(p for p in (str(hidden), os.environ.get("PYTHONPATH")) if p)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", path)
        ioc = IOC(base / "data", ["--commands", str(more)]).start()
    try:
        yield ioc
    finally:
        ioc.stop()
        _end_jobs_of(ioc.data_dir)


@pytest.fixture
def server(demo_ioc):
    """A client of the module's IOC; afterwards the queue is held, empty and idle again."""
    client = ScriptServerClient(demo_ioc.prefix)
    client.hold()
    yield client
    client.hold()
    client.clear(check=False)
    if client.get("CURRENT:ID"):
        client.abort(kill=True, check=False)
    wait_until(lambda: client.get("CURRENT:ID") == 0, timeout=30)


def tool(ioc: IOC, *args: str, env: dict | None = None, timeout: float = 120):
    """Run the console tool as a user does: a process, its exit code, stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "scriptserver_ioc.client.cli", "--prefix", ioc.prefix, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_GIVEN_fresh_install_WHEN_demo_do_sans_added_THEN_it_runs_to_done(demo_ioc, server):
    server.release()
    probe = demo_ioc.data_dir.parent / "probe.py"
    probe.write_text("try:\n    import genie_python\nexcept ImportError:\n    print('no genie')\n")
    assert tool(demo_ioc, "add", "--script", str(probe), "--wait").returncode == 0
    assert "no genie" in tool(demo_ioc, "log", str(server.history()[0]["id"])).stdout

    result = tool(demo_ioc, "add", "do_sans(1, 'water')", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DONE" in result.stdout
    (job,) = [j for j in server.history() if j["command"] == "do_sans"]
    assert job["state"] == "DONE" and job["args"]["sample"] == "water"


def test_GIVEN_command_that_cannot_run_THEN_listed_as_such_everywhere(demo_ioc, server):
    # the catalogue is read from the syntax first; the job interpreter's view follows
    wait_until(lambda: server.command("reduce_run").get("import_error"), timeout=60)
    listing = tool(demo_ioc, "commands").stdout
    assert "CANNOT RUN" in listing and "mantid_is_not_installed_here" in listing
    assert "1 cannot run (reduce_run)" in listing
    entry = server.command("reduce_run")
    assert "mantid_is_not_installed_here" in entry["import_error"]
    assert not server.command("do_sans").get("import_error")
    one = tool(demo_ioc, "commands", "reduce_run").stdout
    assert "CANNOT RUN: " in one
    refused = tool(demo_ioc, "add", "reduce_run(1)")
    assert refused.returncode == 1 and "cannot be imported" in refused.stderr
    # the operator screen shows what cannot run, from the PV it reads
    assert "$(P)COMMANDS:ERRORS" in (ROOT / "opi" / "overview.bob").read_text()
    assert "mantid_is_not_installed_here" in server.get_text("COMMANDS:ERRORS")


def test_GIVEN_script_definition_THEN_help_signature_and_table_agree(demo_ioc, server):
    shown = tool(demo_ioc, "commands", "do_sans").stdout
    assert "do_sans(position: str = '1', sample: str = ''" in shown
    row = next(line for line in shown.splitlines() if "position" in line and "slot" in line)
    assert "str" in row and "'1'" in row


def test_GIVEN_demo_jobs_WHEN_watched_THEN_progress_never_ahead_and_remaining_never_short(
    demo_ioc, server, tmp_path
):
    """On three demo jobs, what `watch` reads: never ahead of elapsed/estimate, and the
    time left never below estimate minus elapsed (elapsed measured by this client after
    each read, so at least what the server measured when it published)."""
    scan = tmp_path / "scan.py"
    scan.write_text('scan("theta", 0, 1, steps=5, count_seconds=0.3)\n')
    sample = tmp_path / "sample.py"
    sample.write_text("set_temperature(25)\ncount(2.0)\n")
    ids = [server.add("do_sans(2, 'cell')")[0]]
    ids += [server.add({"script": f.read_text()})[0] for f in (scan, sample)]
    settle_preflights(server)
    assert all(job["estimate"] for job in server.queue())
    watcher = Watcher(server)
    watcher.start()
    samples: dict[int, list] = {job_id: [] for job_id in ids}
    server.release()
    wait_until(lambda: server.get("CURRENT:ID") == ids[0])
    while server.get("LAST:ID") != ids[-1]:
        snap = watcher.snapshot()
        job = snap.current
        if job and job["started"] and job["estimate"] and snap.progress >= 0:
            elapsed = time.time() - parse_iso(job["started"])
            samples[job["id"]].append((elapsed, snap.progress, snap.remaining, job["estimate"]))
        time.sleep(0.05)
    for job_id, seen in samples.items():
        assert len(seen) >= 5, (job_id, seen)
        for elapsed, progress, remaining, estimate in seen:
            assert progress <= 100.0 * elapsed / estimate + 1e-6, (job_id, seen)
            assert remaining >= estimate - elapsed - 1e-6, (job_id, seen)
    assert [j["state"] for j in server.history()[:3]] == ["DONE"] * 3


def test_GIVEN_names_WHEN_edited_and_rerun_THEN_user_names_survive(demo_ioc, server, tmp_path):
    my_scan = tmp_path / "my_scan.py"
    my_scan.write_text("x = 1\n")
    other = tmp_path / "other.py"
    other.write_text("x = 2\n")
    assert tool(demo_ioc, "add", "--script", str(my_scan)).returncode == 0
    assert tool(demo_ioc, "add", "--script", str(my_scan), "--name", "overnight").returncode == 0
    plain, named = [job["id"] for job in server.queue()]
    assert [job["name"] for job in server.queue()] == ["my_scan.py", "overnight"]
    for job_id in (plain, named):
        assert tool(demo_ioc, "edit", str(job_id), "--script", str(other)).returncode == 0
    assert [job["name"] for job in server.queue()] == ["other.py", "overnight"]
    server.update(named, script="x = 3\n")  # QUEUE:UPDATE of its script over CA
    assert server.job(named)["name"] == "overnight"
    server.release()
    wait_until(lambda: server.finished(named) is not None, timeout=30)
    server.hold()
    for job_id in (plain, named):
        assert tool(demo_ioc, "rerun", str(job_id)).returncode == 0
    assert [job["name"] for job in server.queue()] == ["other.py", "overnight"]


def test_GIVEN_add_wait_THEN_exit_code_is_the_jobs_outcome(demo_ioc, server, tmp_path):
    server.set_on_error("CONTINUE")
    try:
        server.release()
        failing = tmp_path / "failing.py"
        failing.write_text("x = 1\nraise ValueError('bad sample')\n")
        result = tool(demo_ioc, "add", "--script", str(failing), "--wait")
        assert result.returncode == 1 and "FAILED" in result.stdout, result.stdout
        assert "ValueError at line 2: bad sample" in result.stdout
        refused = tool(demo_ioc, "add", "set_ei(energy='fast')", "--wait")
        assert refused.returncode == 1 and "refused" in refused.stderr
        slow = tmp_path / "slow.py"
        slow.write_text("import scriptserver\nfor i in range(600):\n    scriptserver.sleep(0.05)\n")
        waiting = subprocess.Popen(
            [*tool_args(demo_ioc), "add", "--script", str(slow), "--wait"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until(lambda: server.current() is not None and server.current()["name"] == "slow.py")
        server.abort()
        out, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 3 and "ABORTED" in out, out + err
    finally:
        server.set_on_error("HOLD")


def tool_args(ioc: IOC) -> list[str]:
    return [sys.executable, "-m", "scriptserver_ioc.client.cli", "--prefix", ioc.prefix]


def test_GIVEN_job_without_output_WHEN_log_read_THEN_says_so_with_its_message(demo_ioc, server):
    server.release()
    result = tool(demo_ioc, "add", "set_ei(25)", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    job = server.history()[0]
    log = tool(demo_ioc, "log", str(job["id"]))
    assert log.returncode == 0
    assert log.stdout.splitlines()[0] == "(no output)"
    assert f"job {job['id']} DONE: {job['message']}" in log.stdout and job["message"]


def test_GIVEN_refusal_WHEN_next_write_succeeds_THEN_last_error_cleared(demo_ioc, server):
    refused = tool(demo_ioc, "add", "set_ei(2000)")
    assert refused.returncode == 1 and "out of range" in refused.stderr
    assert "out of range" in server.get_text("LAST_ERROR:TEXT")
    assert tool(demo_ioc, "add", "set_ei(25)").returncode == 0
    assert server.get_text("LAST_ERROR:TEXT") == ""
    assert server.get("LAST_ERROR") == ""


def test_GIVEN_long_queue_WHEN_piped_into_head_THEN_no_broken_pipe_error(demo_ioc, server):
    server.add([{"call": "set_ei(25)"} for _ in range(300)])
    piped = subprocess.run(
        f"{' '.join(tool_args(demo_ioc))} queue --json | head -n 2",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.stdout.count("\n") == 2
    assert "Broken pipe" not in piped.stderr and "Traceback" not in piped.stderr, piped.stderr


def test_GIVEN_mistyped_verb_THEN_did_you_mean(demo_ioc):
    result = tool(demo_ioc, "stauts")
    assert result.returncode == 2 and "did you mean 'status'?" in result.stderr


def test_GIVEN_no_server_WHEN_status_THEN_names_prefix_and_addresses_tried():
    result = subprocess.run(
        [sys.executable, "-m", "scriptserver_ioc.client.cli", "--prefix", "NOSUCH:", "status"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "no script server answered at prefix 'NOSUCH:'" in result.stderr
    assert f"EPICS_CA_ADDR_LIST={os.environ['EPICS_CA_ADDR_LIST']}" in result.stderr


def test_GIVEN_terminal_WHEN_edit_without_content_THEN_editor_opens_on_the_job_text(
    demo_ioc, server, tmp_path, monkeypatch
):
    from test_cli_watch import Terminal

    (job_id,) = server.add({"script": "temperature = 5\nprint(temperature)\n"})
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\n"
        "path = pathlib.Path(sys.argv[1])\n"
        "print('editing', path.read_text().splitlines()[0], flush=True)\n"
        "path.write_text(path.read_text().replace('5', '7'))\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.delenv("VISUAL", raising=False)
    terminal = Terminal([*tool_args(demo_ioc), "edit", str(job_id)])
    assert terminal.wait(60) == 0, terminal.text
    assert "editing temperature = 5" in terminal.text and f"job {job_id} updated" in terminal.text
    assert server.job(job_id)["script"] == "temperature = 7\nprint(temperature)\n"


def test_GIVEN_job_WHEN_run_THEN_its_working_directory_is_the_data_dirs_work(demo_ioc, server):
    server.release()
    (job_id,) = server.add({"script": "import os\nprint(os.getcwd())\n"})
    record = server.wait_for_job(job_id, timeout=60)
    assert record["state"] == "DONE"
    expected = Path(demo_ioc.data_dir, "work").resolve()
    assert Path(server.output(job_id).strip()).resolve() == expected


def test_GIVEN_status_and_history_THEN_they_say_what_is_known(demo_ioc, server, tmp_path):
    idle = tool(demo_ioc, "status").stdout
    assert "queue 0 jobs, HELD" in idle
    server.release()
    assert "queue 0 jobs, not held" in tool(demo_ioc, "status").stdout
    flag = tmp_path / "go"
    gate = f"import os, time\nwhile not os.path.exists({str(flag)!r}):\n    time.sleep(0.05)\n"
    (job_id,) = server.add({"script": gate, "name": "gate"})
    wait_until(lambda: server.get("CURRENT:ID") == job_id and server.get("CURRENT:LINE") > 0)
    assert server.current()["estimate"] is None  # its dry run cannot know when it ends
    running = tool(demo_ioc, "status").stdout
    assert "eta ?  finish ?" in running and ", ? %" in running, running
    flag.touch()
    assert server.wait_for_job(job_id, timeout=60)["state"] == "DONE"
    row = next(line for line in tool(demo_ioc, "history").stdout.splitlines() if "gate" in line)
    assert "not checked yet" not in row
    # a job that ends long before its check can (its dry run spins to its time limit)
    quick = "import scriptserver\nwhile scriptserver.simulating():\n    pass\n"
    (quick_id,) = server.add({"script": quick, "name": "quick"})
    assert server.wait_for_job(quick_id, timeout=60)["state"] == "DONE"
    shown = tool(demo_ioc, "show", str(quick_id)).stdout
    assert "pre-flight: not checked (the job started before its check was done)" in shown


def test_GIVEN_hold_before_a_failing_job_WHEN_it_is_removed_THEN_status_says_so(demo_ioc, server):
    (bad,) = server.add({"script": "x = 1\nprint(name_defined_nowhere)\n"})
    settle_preflights(server)
    server.release()
    wait_until(lambda: "before job" in (server.status().get("hold_reason") or ""))
    assert f"held: queue held before job {bad}" in tool(demo_ioc, "status").stdout
    server.remove([bad])
    said = tool(demo_ioc, "status").stdout
    assert f"(job {bad} is no longer queued; `release` runs the rest)" in said, said


def test_GIVEN_running_script_WHEN_edited_from_a_file_THEN_rest_runs_edited(
    demo_ioc, server, tmp_path
):
    flag = tmp_path / "go"
    gate = f"import os, time\nwhile not os.path.exists({str(flag)!r}):\n    time.sleep(0.05)\n"
    edited = tmp_path / "edited.py"
    edited.write_text(gate + "print('edited part ran')\n")
    server.release()
    (job_id,) = server.add({"script": gate, "name": "gate"})
    wait_until(lambda: server.get("CURRENT:ID") == job_id and server.get("CURRENT:LINE") > 1)
    result = tool(demo_ioc, "edit", str(job_id), "--script", str(edited))
    assert result.returncode == 0, result.stdout + result.stderr
    flag.touch()
    record = server.wait_for_job(job_id, timeout=60)
    assert record["state"] == "DONE" and record["name"] == "gate"
    assert "edited part ran" in server.output(job_id)
