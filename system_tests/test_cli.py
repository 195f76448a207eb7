"""The `scriptserver` console tool against a real IOC.

Most verbs run in this process through `cli.main` (its return value is the process's exit
code); the exit codes, stderr and noise of a real process are checked with subprocesses.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, wait_until

from scriptserver_ioc.client.cli import main

FAILING = "x = 1\nprint('measuring', flush=True)\nraise ValueError('bad sample')\n"
SLOW = (
    "import scriptserver\nfor i in range(400):\n"
    "    print('tick', i, flush=True)\n    scriptserver.sleep(0.05)\n"
)


@pytest.fixture
def ioc(start_ioc):
    """An IOC without pre-flight dry runs: these jobs fail or wait on purpose."""
    return start_ioc(["--preflight-workers", "0"])


def cli(ioc, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scriptserver_ioc.client.cli", "--prefix", ioc.prefix, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run(capsys, ioc, *args: str) -> tuple[int, str, str]:
    code = main(["--prefix", ioc.prefix, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_GIVEN_ioc_WHEN_queue_driven_from_console_THEN_changes_and_errors_shown(ioc, tmp_path):
    assert cli(ioc, "hold").returncode == 0
    result = cli(ioc, "add", "set_ei(25)", "--name", "first")
    assert result.returncode == 0 and "queued job" in result.stdout
    script = tmp_path / "scan.py"
    script.write_text("for i in range(3):\n    print(i)\n")
    assert cli(ioc, "add", "--script", str(script)).returncode == 0
    shown = cli(ioc, "queue")
    assert "first" in shown.stdout and "scan.py" in shown.stdout  # named after its file
    assert cli(ioc, "move", "2", "--to", "top").returncode == 0
    status = cli(ioc, "status").stdout
    assert "queue 2 jobs" in status and "HELD" in status
    bad = cli(ioc, "remove", "99")
    assert bad.returncode == 1 and "job 99 is not queued" in bad.stderr
    assert "set_ei" in cli(ioc, "commands").stdout
    assert cli(ioc, "clear").returncode == 0
    last = cli(ioc, "log")
    assert "queued job 1" in last.stdout
    for result in (bad, last, shown):  # libca's repeater spawn is silenced
        assert "caRepeater" not in result.stderr + result.stdout
        assert "Traceback" not in result.stderr


def test_GIVEN_write_verbs_THEN_reply_and_warnings_printed_and_refusals_exit_1(
    client, ioc, capsys, tmp_path
):
    code, out, err = run(capsys, ioc, "add", "set_ei(25)", "--name", "chopper")
    assert code == 0 and "queued job" in out and "chopper" in out
    (chopper,) = [j["id"] for j in client.queue()]
    code, out, err = run(capsys, ioc, "add", "set_ei(energy='fast')")
    assert code == 1 and "refused" in err and "energy" in err and client.get("QUEUE:COUNT") == 1
    script = tmp_path / "typo.py"
    script.write_text("x = undefined_name + 1\n")
    code, out, _ = run(capsys, ioc, "add", "--script", str(script))
    assert code == 0 and "warning: line 1" in out and "undefined_name" in out
    added = [j["id"] for j in client.queue()][1:]
    code, out, _ = run(capsys, ioc, "show", str(added[0]))
    assert code == 0 and "warning:" in out and "| x = undefined_name + 1" in out
    code, out, _ = run(capsys, ioc, "edit", str(chopper), "set_ei(30)", "--name", "faster")
    assert code == 0 and f"job {chopper} updated" in out and "faster" in out
    code, out, _ = run(capsys, ioc, "update", str(chopper), "--blackbox")
    assert code == 0 and client.job(chopper)["blackbox"] is True
    code, _, err = run(capsys, ioc, "edit", "999", "--name", "x")
    assert code == 1 and "999" in err
    code, out, _ = run(capsys, ioc, "repeat", str(chopper), "--times", "2")
    assert code == 0 and "repeated" in out and client.get("QUEUE:COUNT") == 4
    code, out, _ = run(capsys, ioc, "move", str(chopper), "--by", "2")
    assert code == 0 and "moved" in out
    code, out, _ = run(capsys, ioc, "skip", str(added[0]))
    assert code == 0 and client.finished(added[0])["state"] == "SKIPPED"
    code, out, _ = run(capsys, ioc, "rerun", str(added[0]))
    assert code == 0 and "queued again" in out
    code, out, _ = run(capsys, ioc, "on-error", "continue")
    assert code == 0 and client.get("QUEUE:ON_ERROR") == "CONTINUE"
    code, out, _ = run(capsys, ioc, "reload")
    assert code == 0
    code, out, _ = run(capsys, ioc, "remove", "all")
    assert code == 0 and client.queue() == []
    code, _, err = run(capsys, ioc, "resume")
    assert code == 1 and "refused" in err  # nothing is paused


def test_GIVEN_validate_THEN_verdict_printed_and_exit_1_when_job_would_fail(client, ioc, capsys):
    code, out, _ = run(capsys, ioc, "validate", "set_ei(2000)")
    assert code == 1 and "invalid" in out and "out of range" in out
    code, out, _ = run(capsys, ioc, "validate", "set_ei(25)", "--dry-run")
    assert code == 0 and "dry run: ok" in out and "line 1" in out
    code, out, _ = run(capsys, ioc, "validate", "set_ei(25)", "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    assert client.queue() == []


def test_GIVEN_finished_jobs_WHEN_history_show_log_read_THEN_error_type_line_traceback_shown(
    client, ioc, capsys
):
    client.set_on_error("CONTINUE")
    bad, good = client.add([{"script": FAILING, "name": "bad"}, {"script": "print('hello')"}])
    client.release()
    client.wait_for_job(good, timeout=30)
    code, out, _ = run(capsys, ioc, "history")
    assert code == 0 and "FAILED" in out and "ValueError at line 3: bad sample" in out
    code, out, _ = run(capsys, ioc, "history", "--json")
    assert [j["id"] for j in json.loads(out)][:2] == [good, bad]
    code, out, _ = run(capsys, ioc, "show", str(bad))
    assert code == 0 and "ValueError at line 3" in out and "Traceback" in out
    assert "| raise ValueError('bad sample')" in out
    code, out, _ = run(capsys, ioc, "show", str(bad), "--json")
    assert json.loads(out)["error"]["line"] == 3
    code, out, _ = run(capsys, ioc, "log", str(good))
    assert code == 0 and "hello" in out
    code, out, _ = run(capsys, ioc, "log", str(bad))  # not the last job: JOB:OUTPUT:SELECT
    assert code == 0 and "measuring" in out and "hello" not in out
    code, _, err = run(capsys, ioc, "log", "999")
    assert code == 1 and "job 999 has no output log" in err
    code, _, err = run(capsys, ioc, "show", "999")
    assert code == 1 and "999" in err


def test_GIVEN_catalogue_and_status_WHEN_read_THEN_full_help_and_json(client, ioc, capsys):
    code, out, _ = run(capsys, ioc, "commands", "set_ei")
    assert code == 0 and "set_ei(energy: float" in out
    assert "energy" in out and "required" in out and "float" in out and "incident energy" in out
    code, out, _ = run(capsys, ioc, "commands", "--json")
    assert any(c["name"] == "set_ei" for c in json.loads(out))
    code, _, err = run(capsys, ioc, "commands", "nope")
    assert code == 1 and "no command 'nope'" in err
    code, out, _ = run(capsys, ioc, "status", "--json")
    status = json.loads(out)
    assert status["state"] == "IDLE" and status["hold"] is True and "finish" in status


def test_GIVEN_queue_with_estimates_WHEN_shown_THEN_planned_times_and_timeline(
    client, ioc, capsys, tmp_path
):
    ids = client.add([{"call": "set_ei(25)"}, {"script": "pass"}, {"call": "set_ei(30)"}])
    code, out, _ = run(capsys, ioc, "queue", "--json")
    planned = json.loads(out)
    assert [p["id"] for p in planned] == ids
    assert planned[0]["planned_finish"] >= planned[0]["planned_start"]
    assert planned[1]["planned_start"] == pytest.approx(planned[0]["planned_finish"])
    assert [p["at_least"] for p in planned] == [False, True, True]
    code, out, _ = run(capsys, ioc, "queue")
    assert code == 0 and "≥" in out and "|" in out and "queue finishes at" in out
    pytest.importorskip("matplotlib")
    png = tmp_path / "night.png"
    code, out, _ = run(capsys, ioc, "queue", "--png", str(png))
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_GIVEN_running_job_WHEN_log_followed_and_controlled_THEN_output_live_and_result(
    client, ioc, capsys
):
    (job,) = client.add({"script": SLOW})
    client.release()
    wait_until(lambda: client.get("CURRENT:ID") == job and client.get("CURRENT:LINE") == 4)
    code, out, _ = run(capsys, ioc, "pause")
    assert code == 0 and "pause" in out
    wait_until(lambda: client.state() == "PAUSED")
    assert "PAUSED" in run(capsys, ioc, "status")[1]
    assert run(capsys, ioc, "resume")[0] == 0
    follower = subprocess.Popen(
        [sys.executable, "-m", "scriptserver_ioc.client.cli", "--prefix", ioc.prefix]
        + ["log", str(job), "-f"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: client.get_text("CURRENT:OUTPUT").count("tick") > 20)
    code, out, _ = run(capsys, ioc, "abort")
    assert code == 0 and f"aborting job {job}" in out
    out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    assert "tick 0" in out and "tick 20" in out and f"job {job}" in out and "ABORTED" in out
    assert "caRepeater" not in err
    (other,) = client.add({"script": SLOW})
    client.release()
    wait_until(lambda: client.get("CURRENT:ID") == other)
    code, out, _ = run(capsys, ioc, "stop")
    assert code == 0 and "stopping" in out
    assert client.wait_for_job(other, timeout=30)["state"] == "ABORTED"


def test_GIVEN_bad_command_line_THEN_usage_error_exit_2(ioc):
    result = cli(ioc, "move", "3")
    assert result.returncode == 2 and "one of the arguments" in result.stderr
    result = cli(ioc, "add", "set_ei(1)", "--file", "x.py")
    assert result.returncode == 1 and "give one of" in result.stderr
