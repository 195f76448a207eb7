"""Editing the unexecuted part of a running script over Channel Access (QUEUE:UPDATE with the
running job's id), as NICOS's "update script" does."""

from __future__ import annotations

from conftest import wait_until

GATE_LINE = 5


def twenty_lines(gate, tag: str) -> str:
    """A 20-line script: line 2 sets a variable, line 5 waits for `gate`, 6-20 print."""
    head = [
        "import os, time",
        "kept = 'set at line 2'",
        "x = 1",
        "y = x + 1",
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.01)",
    ]
    tail = [f"print({tag!r}, {n}, kept, flush=True)" for n in range(6, 21)]
    return "\n".join(head + tail) + "\n"


def job_log(ioc, job_id: int) -> str:
    return (ioc.data_dir / "logs" / f"job-{job_id}.log").read_text()


def test_GIVEN_20_line_script_running_line_5_WHEN_lines_6_to_20_edited_THEN_runs_new_lines(
    runner, ioc, tmp_path
):
    gate = tmp_path / "gate"
    old, new = twenty_lines(gate, "old"), twenty_lines(gate, "new")
    (job_id,) = runner.add({"script": old})
    wait_until(lambda: runner.get("CURRENT:LINE") == GATE_LINE)
    reply = runner.put("QUEUE:UPDATE", {"id": job_id, "script": new})
    assert reply["ok"], reply
    gate.touch()
    wait_until(lambda: runner.get("LAST:ID") == job_id)
    job = runner.get_json("HISTORY")[0]
    assert job["state"] == "DONE", job["error"]
    output = job_log(ioc, job_id)
    assert "old" not in output
    assert [f"new {n} set at line 2" for n in range(6, 21)] == output.split("\n")[-16:-1]
    assert job["script"] == new
    (edit,) = job["edits"]
    assert edit["before"] == old and edit["applied"] is True and edit["after_line"] == 5
    assert "applied" in runner.get_text("LOG")


def test_GIVEN_running_script_WHEN_edit_changes_executed_line_3_THEN_refused_naming_it(
    runner, ioc, tmp_path
):
    gate = tmp_path / "gate"
    old = twenty_lines(gate, "old")
    (job_id,) = runner.add({"script": old})
    wait_until(lambda: runner.get("CURRENT:LINE") == GATE_LINE)
    changed = old.replace("x = 1", "x = 2")
    reply = runner.put("QUEUE:UPDATE", {"id": job_id, "script": changed})
    assert not reply["ok"]
    assert "line 3 has already run" in reply["message"]
    assert "line 3" in runner.get_text("LAST_ERROR")
    gate.touch()
    wait_until(lambda: runner.get("LAST:ID") == job_id)
    job = runner.get_json("HISTORY")[0]
    assert job["state"] == "DONE" and job["script"] == old and job["edits"] == []
    assert "old 20 set at line 2" in job_log(ioc, job_id)


def test_GIVEN_running_blackbox_job_WHEN_updated_THEN_refused_and_job_unchanged(runner, tmp_path):
    (job_id,) = runner.add({"script": twenty_lines(tmp_path / "gate", "old"), "blackbox": True})
    wait_until(lambda: runner.get("CURRENT:ID") == job_id)
    reply = runner.put("QUEUE:UPDATE", {"id": job_id, "script": "print(1)\n"})
    assert not reply["ok"] and "black-box" in reply["message"]
    reply = runner.put("QUEUE:UPDATE", {"id": job_id, "name": "renamed"})
    assert not reply["ok"] and "'script'" in reply["message"]
    (tmp_path / "gate").touch()
    wait_until(lambda: runner.get("LAST:ID") == job_id)
    assert runner.get_json("HISTORY")[0]["edits"] == []


def test_GIVEN_job_inside_a_function_WHEN_edit_changes_a_line_run_since_THEN_job_refuses_it(
    runner, ioc, tmp_path
):
    # CURRENT:LINE is inside the function (line 3), so the server cannot know that lines
    # 4-5 have run; the job checks at its next top-level statement and refuses
    gate = tmp_path / "gate"
    old = (
        "import os, time\n"
        "def wait():\n"
        f"    while not os.path.exists({str(gate)!r}): time.sleep(0.01)\n"
        "a = 'run before the wait'\n"
        "wait()\n"
        "print('after', a, flush=True)\n"
    )
    (job_id,) = runner.add({"script": old})
    wait_until(lambda: runner.get("CURRENT:LINE") == 3)
    new = old.replace("'run before the wait'", "'changed'").replace("after", "edited")
    assert runner.put("QUEUE:UPDATE", {"id": job_id, "script": new})["ok"]
    gate.touch()
    wait_until(lambda: runner.get("LAST:ID") == job_id)
    job = runner.get_json("HISTORY")[0]
    assert job["state"] == "DONE" and job["script"] == old
    (edit,) = job["edits"]
    assert edit["applied"] is False and edit["proposed"] == new
    assert "line 4 has already run" in edit["message"]
    assert "line 4 has already run" in runner.get_text("LOG")
    assert "after run before the wait" in job_log(ioc, job_id)
