"""Progress of a job over Channel Access: monotonic, and meaning the whole job.

Three job shapes (issue 9): a script calling several commands that each report their own
progress, a loop whose body is one line, and a command job. At every sample while the job
runs, `CURRENT:PROGRESS` must be known and never lower than at the previous
sample, and say where the job is in the whole job, by condition, not by clock: while a
command of the script runs, never past the end of that command's part of the dry run's
timeline (a command's own 80 % is not the job's); a one-line loop moves past its first
iteration; a command job's own reports carry it on. How closely progress follows
elapsed/actual time is measured, not asserted: `bench/bench_progress.py`.
"""

from __future__ import annotations

import os
import time

from conftest import wait_until

MULTI_COMMAND = (
    'scan("sample_height", 0, 1, steps=6, count_seconds=0.1)\n'
    'scan("sample_height", 1, 0, steps=4, count_seconds=0.2)\n'
    'scan("theta", 0, 1, steps=8, count_seconds=0.05)\n'
)
ONE_LINE_LOOP = "import scriptserver\nfor i in range(10):\n    scriptserver.sleep(0.25)\n"
COMMAND = 'scan("theta", 0, 1, steps=10, count_seconds=0.15)'


def dry_run(client, script: str) -> dict:
    """Dry-run a script, so that its timeline is known when it runs; the dry run's result."""
    client.put("VALIDATE", {"script": script, "dry_run": True})
    return wait_until(lambda: _dry_run_done(client.get_json("VALIDATE:RESULT")))


def _dry_run_done(result: dict) -> dict | None:
    dry = result.get("dry_run") or {}
    return dry if dry.get("ok") else None


def samples_of(client, job_id: int) -> tuple[list[dict], dict]:
    """`CURRENT:PROGRESS` then `CURRENT:LINE` every ~50 ms while the job runs, and its
    finished record (the line read after the progress: never an earlier one)."""
    wait_until(lambda: client.get("CURRENT:ID") == job_id)
    samples = []
    while client.get("CURRENT:ID") == job_id:
        progress = client.get("CURRENT:PROGRESS")
        line = client.get("CURRENT:LINE")
        if client.get("CURRENT:ID") == job_id:
            samples.append({"progress": progress, "line": line})
        time.sleep(0.05)  # the sampling period, not a wait for anything
    wait_until(lambda: client.get("LAST:ID") == job_id)
    return samples, client.get_json("HISTORY")[0]


def line_ends(dry: dict) -> dict[int, float]:
    """Percent of the dry run's timeline done when each line's part of it ends."""
    ends: dict[int, float] = {}
    steps = dry["steps"]
    for step, following in zip(steps, [*steps[1:], None]):
        end = following["t"] if following else dry["estimate"]
        ends[step["line"]] = max(ends.get(step["line"], 0.0), 100.0 * end / dry["estimate"])
    return ends


def run(runner, spec) -> tuple[list[dict], dict | None]:
    dry = dry_run(runner, spec["script"]) if "script" in spec else None
    (job_id,) = runner.add(spec)
    samples, job = samples_of(runner, job_id)
    assert job["state"] == "DONE", job["error"]
    assert len(samples) >= 10, samples
    previous = 0.0
    for record in samples:
        progress = record["progress"]
        assert progress >= 0 and progress >= previous - 1e-9, (record, samples)
        previous = progress
    return samples, dry


def test_GIVEN_script_of_commands_WHEN_running_THEN_progress_is_the_whole_jobs(runner):
    samples, dry = run(runner, {"script": MULTI_COMMAND})
    ends = line_ends(dry)
    assert sorted(ends) == [1, 2, 3] and ends[1] < 50 < ends[3]  # (each scan its part)
    for record in samples:  # a command's own percent would pass its part's end
        if record["line"] in ends:
            assert record["progress"] <= ends[record["line"]] + 1e-6, (record, ends)
    assert {record["line"] for record in samples} >= {1, 3}  # (and the last part was seen)


def test_GIVEN_one_line_loop_WHEN_running_THEN_progress_moves_past_the_first_iteration(runner):
    samples, dry = run(runner, {"script": ONE_LINE_LOOP})
    first_iteration = 100.0 * dry["steps"][1]["t"] / dry["estimate"]  # import, then loop
    assert first_iteration <= 15, dry["steps"][:3]
    # stuck at the loop's first report (lines are coalesced), it would stay at 10 %
    assert max(record["progress"] for record in samples) >= 2 * first_iteration, samples


def test_GIVEN_command_job_WHEN_running_THEN_its_own_reports_carry_the_progress(runner):
    samples, _ = run(runner, {"call": COMMAND})
    assert any(record["progress"] >= 50 for record in samples), samples


def test_GIVEN_generated_batch_WHEN_running_THEN_group_progress_until_it_ends(runner, tmp_path):
    runner.put("QUEUE:HOLD", 1)
    gate = "import os, time\nwhile not os.path.exists({!r}):\n    time.sleep(0.01)\n"
    flags = [str(tmp_path / f"go-{i}") for i in range(4)]
    batch = [
        {
            "script": gate.format(flag) + ("1 / 0\n" if i == 1 else ""),
            "tags": {"group": "Temperature scan", "index": i + 1, "count": 4},
        }
        for i, flag in enumerate(flags)
    ]
    ids = runner.add(batch)
    runner.put("QUEUE:ON_ERROR", 1)  # CONTINUE after the failing one
    runner.put("QUEUE:ON_INVALID", 1)  # and run it although its pre-flight fails
    runner.put("QUEUE:HOLD", 0)
    try:
        for position, (job_id, flag) in enumerate(zip(ids, flags), start=1):
            wait_until(lambda n=job_id: runner.get("CURRENT:ID") == n)
            group = runner.get_json("STATUS")["groups"]["Temperature scan"]
            assert group["count"] == 4
            assert group["running"] == position
            assert group["done"] + group["failed"] == position - 1
            assert group["failed"] == (1 if position > 2 else 0)
            assert group["queued"] == 4 - position
            assert group["finish"] != "-"
            current = runner.get_json("CURRENT")
            assert current["group"]["text"] == f"{position} of 4"
            with open(flag, "w"):
                pass
        wait_until(lambda: runner.get("LAST:ID") == ids[-1])
        assert "Temperature scan" not in runner.get_json("STATUS")["groups"]
    finally:
        for flag in flags:
            if os.path.exists(flag):
                os.unlink(flag)
