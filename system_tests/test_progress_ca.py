"""Progress of a job over Channel Access: monotonic, and meaning the whole job.

Three job shapes (issue 9): a script calling several commands that each report their own
progress, a loop whose body is one line, and a command job. At every sample while the job
runs, `CURRENT:PROGRESS` must be known, never lower than at the previous sample, and within
10 points of elapsed/actual (the job's real duration, known once it has ended).
"""

from __future__ import annotations

import os
import time

import pytest
from conftest import wait_until

MULTI_COMMAND = (
    'scan("sample_height", 0, 1, steps=6, count_seconds=0.1)\n'
    'scan("sample_height", 1, 0, steps=4, count_seconds=0.2)\n'
    'scan("theta", 0, 1, steps=8, count_seconds=0.05)\n'
)
ONE_LINE_LOOP = "import scriptserver\nfor i in range(10):\n    scriptserver.sleep(0.25)\n"
TOLERANCE = 10.0


def dry_run(client, script: str) -> None:
    """Dry-run a script, so that its timeline is known when it runs."""
    client.put("VALIDATE", {"script": script, "dry_run": True})
    wait_until(lambda: (client.get_json("VALIDATE:RESULT").get("dry_run") or {}).get("ok"))


def samples_of(client, job_id: int) -> tuple[list[tuple[float, float]], dict]:
    """(elapsed, progress) every ~50 ms while the job runs, and its finished record."""
    wait_until(lambda: client.get("CURRENT:ID") == job_id)
    samples = []
    while client.get("CURRENT:ID") == job_id:
        progress = client.get("CURRENT:PROGRESS")
        elapsed = client.get("CURRENT:ELAPSED")
        if client.get("CURRENT:ID") == job_id:
            samples.append((elapsed, progress))
        time.sleep(0.05)
    wait_until(lambda: client.get("LAST:ID") == job_id)
    return samples, client.get_json("HISTORY")[0]


@pytest.mark.parametrize(
    "spec",
    [
        {"script": MULTI_COMMAND},
        {"script": ONE_LINE_LOOP},
        {"call": 'scan("theta", 0, 1, steps=10, count_seconds=0.15)'},
    ],
    ids=["multi-command", "one-line-loop", "command"],
)
def test_GIVEN_job_WHEN_running_THEN_progress_monotonic_and_tracks_elapsed_over_actual(
    runner, spec
):
    if "script" in spec:
        dry_run(runner, spec["script"])
    (job_id,) = runner.add(spec)
    samples, job = samples_of(runner, job_id)
    assert job["state"] == "DONE", job["error"]
    actual = job["elapsed"]
    assert len(samples) >= 10, samples
    previous = 0.0
    for elapsed, progress in samples:
        assert progress >= previous - 1e-9, (elapsed, progress, samples)
        expected = min(100.0, 100.0 * elapsed / actual)
        assert abs(progress - expected) <= TOLERANCE, (elapsed, progress, expected, samples)
        previous = progress


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
