"""Over Channel Access: a check is never an action, and never delays a job (issue #18).

One IOC for the module (queue held between tests). A script with every kind of file effect
and two programs is queued held: its background pre-flight verdict comes and the directory
is unchanged, names and bytes; the same through `VALIDATE` with a dry run; released, the
job does every effect exactly once; the same for a `file` job and a command job. A local
HTTP server receives nothing from a dry run of a script that posts to it, and the post once
from the real run. A script that waits for a flag file starts soon after the queue is
released, whatever its dry run does, and a `fails` verdict that arrives while it runs, or
after it ended, only warns (and is kept on its record).
"""

from __future__ import annotations

import http.server
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import COMMANDS, IOC, ROOT, wait_until

from scriptserver_ioc.client.client import ScriptServerClient
from scriptserver_ioc.core.jobs import parse_iso

EFFECTS = """\
import os, shutil, subprocess, sys
d = {d!r}
with open(os.path.join(d, "runs.log"), "a") as log:
    log.write("run done\\n")
with open(os.path.join(d, "results.csv"), "w") as out:
    out.write("run,counts\\n42,1000\\n")
os.remove(os.path.join(d, "old.txt"))
os.rename(os.path.join(d, "last_night.nxs"), os.path.join(d, "archived.nxs"))
os.mkdir(os.path.join(d, "reduced"))
shutil.copy(os.path.join(d, "results.csv"), os.path.join(d, "reduced", "copy.csv"))
subprocess.run([sys.executable, "-c", "open({d!r} + '/by_subprocess.txt', 'a').write('x')"])
os.system(sys.executable + " -c \\"open('{d}/by_system.txt', 'a').write('y')\\"")
print("effects done")
"""


def listing(root: Path) -> dict:
    """Names and bytes of everything under root."""
    return {
        str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


ARCHIVE_COMMAND = '''"""Keeping the instrument's files: effects a dry run must not do."""

import os
import shutil


def archive_run(run: int, folder: str) -> None:
    """Log a run and move last night's data file into the archive.

    Args:
        run: the run number.
        folder: the instrument's data folder.
    """
    with open(os.path.join(folder, "runs.log"), "a") as log:
        log.write(f"run {run} archived\\n")
    os.makedirs(os.path.join(folder, "archive"), exist_ok=True)
    shutil.move(os.path.join(folder, "last_night.nxs"), os.path.join(folder, "archive"))
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One IOC (pre-flight on, default 0.5 s wait for a verdict) for the module; its
    commands are the demo's and `archive_run`, its scripts folder `<data>/scripts`."""
    base = tmp_path_factory.mktemp("isolation")
    commands = base / "commands"
    shutil.copytree(COMMANDS, commands, ignore=shutil.ignore_patterns("__pycache__"))
    (commands / "archive.py").write_text(ARCHIVE_COMMAND)
    (base / "data" / "scripts").mkdir(parents=True)
    ioc = IOC(base / "data", commands=commands).start()
    yield ioc
    ioc.stop()


@pytest.fixture
def client(server):
    client = ScriptServerClient(server.prefix)
    client.put("QUEUE:HOLD", 1)
    client.clear(check=False)  # what an earlier test that failed left queued
    wait_until(lambda: client.current() is None and not client.queue(), timeout=60)
    return client


@pytest.fixture
def world(tmp_path):
    d = tmp_path / "instrument_data"
    d.mkdir()
    (d / "runs.log").write_text("run 41 done\n")
    (d / "old.txt").write_text("old")
    (d / "last_night.nxs").write_bytes(b"\x89HDF")
    return d


def cli(ioc, *args: str) -> subprocess.CompletedProcess:
    """The console tool `scriptserver`, as a user runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "scriptserver_ioc.client.cli", "--prefix", ioc.prefix, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def running(client, job_id):
    """The record of the running job if it is `job_id`, else None."""
    current = client.current()
    return current if current and current["id"] == job_id else None


def verdict(client, job_id):
    job = next((j for j in client.queue() if j["id"] == job_id), None)
    return (job or {}).get("preflight")


def test_GIVEN_held_script_with_effects_WHEN_checked_THEN_nothing_done_until_it_runs_once(
    client, server, world
):
    before = listing(world)
    source = EFFECTS.format(d=str(world))
    (job_id,) = client.add([{"script": source, "name": "effects"}])
    record = wait_until(lambda: verdict(client, job_id), timeout=60)
    assert record["verdict"] == "unknown"
    assert record["message"] == (
        f"line 11 runs a program (`{Path(__import__('sys').executable).name}`); not checked past it"
    )
    assert f"would remove `{world / 'old.txt'}` (line 7)" in record["withheld"]
    assert record["withheld"][-1].startswith("wrote 3 files to its scratch space")
    assert listing(world) == before

    result = client.validate({"script": source}, dry_run=True)
    assert result["ok"] and result["dry_run"]["error"]["type"] == "DryRunHalted"
    assert any("runs a program" in w for w in result["warnings"])
    assert listing(world) == before

    # the console tool says what the checks did not do
    shown = cli(server, "show", str(job_id))
    assert record["partial_estimate"]["line"] == 11
    (at_least,) = [line for line in shown.stdout.splitlines() if "estimate at least" in line]
    assert at_least.endswith(" s: not counted past line 11"), at_least
    assert "what the dry run did not do:" in shown.stdout
    assert f"would remove `{world / 'old.txt'}` (line 7)" in shown.stdout
    script = world.parent / "effects.py"
    script.write_text(source)
    validated = cli(server, "validate", "--dry-run", "--script", str(script))
    assert validated.returncode == 0, validated.stdout  # stopped by a program: not a failure
    assert "dry run: stopped (not checked past it)" in validated.stdout
    assert f"would rename `{world / 'last_night.nxs'}`" in validated.stdout
    assert listing(world) == before

    client.put("QUEUE:HOLD", 0)
    job = client.wait_for_job(job_id, timeout=60)
    assert job["state"] == "DONE", job
    after = listing(world)
    assert after["runs.log"] == b"run 41 done\nrun done\n"
    assert after["results.csv"] == after["reduced/copy.csv"] == b"run,counts\n42,1000\n"
    assert "old.txt" not in after and "last_night.nxs" not in after
    assert after["archived.nxs"] == b"\x89HDF"
    assert after["by_subprocess.txt"] == b"x" and after["by_system.txt"] == b"y"


NIGHTLY = """\
import os
d = {d!r}
with open(os.path.join(d, "runs.log"), "a") as log:
    log.write("nightly done\\n")
with open(os.path.join(d, "results.csv"), "w") as out:
    out.write("run,counts\\n42,1000\\n")
os.remove(os.path.join(d, "old.txt"))
"""


def test_GIVEN_held_file_and_command_jobs_with_effects_WHEN_checked_THEN_nothing_done_until_run(
    client, server, world
):
    """A `file` job (the scripts folder) and a command job are checked as scripts are."""
    before = listing(world)
    (server.data_dir / "scripts" / "nightly.py").write_text(NIGHTLY.format(d=str(world)))
    archive = {"command": "archive_run", "args": {"run": 42, "folder": str(world)}}
    file_id, command_id = client.add([{"file": "nightly.py"}, archive])
    for job_id in (file_id, command_id):
        record = wait_until(lambda job_id=job_id: verdict(client, job_id), timeout=60)
        assert record["verdict"] in ("ok", "warnings"), record
    nightly, archived = verdict(client, file_id), verdict(client, command_id)
    assert f"would remove `{world / 'old.txt'}` (line 7)" in nightly["withheld"]
    assert nightly["withheld"][-1].startswith("wrote 2 files to its scratch space")
    assert any(
        w.startswith(f"would rename `{world / 'last_night.nxs'}`") for w in archived["withheld"]
    )
    assert listing(world) == before
    for spec in ({"file": "nightly.py"}, archive):  # VALIDATE's dry run, the same
        result = client.validate(spec, dry_run=True)
        assert result["ok"] and result["dry_run"]["error"] is None, result
    assert listing(world) == before

    client.put("QUEUE:HOLD", 0)
    for job_id in (file_id, command_id):
        assert client.wait_for_job(job_id, timeout=60)["state"] == "DONE"
    after = listing(world)
    assert after["runs.log"] == b"run 41 done\nnightly done\nrun 42 archived\n"
    assert after["results.csv"] == b"run,counts\n42,1000\n"
    assert "old.txt" not in after and "last_night.nxs" not in after
    assert after["archive/last_night.nxs"] == b"\x89HDF"


class _Webhook(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - the handler's API
        self.received.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_GIVEN_script_posting_to_a_webhook_WHEN_checked_and_run_THEN_one_post_from_the_run(
    client,
):
    _Webhook.received = []
    http_server = http.server.HTTPServer(("127.0.0.1", 0), _Webhook)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{http_server.server_port}/chat"
    source = (
        "import urllib.request\n"
        f"urllib.request.urlopen(urllib.request.Request({url!r}, data=b'run 42 done'))\n"
    )
    try:
        (job_id,) = client.add([{"script": source}])
        record = wait_until(lambda: verdict(client, job_id), timeout=60)
        assert record["verdict"] == "unknown"
        assert record["message"] == f"line 2 sends a request to `{url}`; not checked past it"
        client.validate({"script": source}, dry_run=True)
        assert _Webhook.received == []
        client.put("QUEUE:HOLD", 0)
        assert client.wait_for_job(job_id, timeout=60)["state"] == "DONE"
        assert _Webhook.received == [b"run 42 done"]
    finally:
        http_server.shutdown()
        http_server.server_close()


WAITS_FOR_FLAG = """\
import os, time
while not os.path.exists({flag!r}):
    time.sleep(0.05)
print("flag seen")
"""

FAILS_LATE = """\
import os, time, scriptserver
if scriptserver.simulating():  # the check finds a problem once the job itself runs
    while not os.path.exists({started!r}):
        time.sleep(0.005)  # (short sleeps are real in a dry run)
    raise RuntimeError("a problem only the check finds")
open({started!r}, "w").close()
while not os.path.exists({flag!r}):
    time.sleep(0.05)
"""


def test_GIVEN_job_whose_check_cannot_finish_WHEN_released_THEN_it_starts_without_waiting(
    client, tmp_path
):
    flag = tmp_path / "go"
    (job_id,) = client.add([{"script": WAITS_FOR_FLAG.format(flag=str(flag))}])
    client.put("QUEUE:HOLD", 0)
    # its dry run can only end at its 10 s limit; the job must not wait for that (how soon
    # it starts, about 0.5 s, is measured in bench/, not asserted on a loaded machine)
    job = wait_until(lambda: running(client, job_id), timeout=60)
    check = job.get("preflight")
    assert check is None or parse_iso(check["checked"]) > parse_iso(job["started"]), job
    flag.write_text("go")
    assert client.wait_for_job(job_id, timeout=30)["state"] == "DONE"


def test_GIVEN_fails_verdict_arriving_while_job_runs_WHEN_it_comes_THEN_only_a_warning(
    client, tmp_path
):
    flag, started = tmp_path / "go", tmp_path / "started"
    (job_id,) = client.add([{"script": FAILS_LATE.format(flag=str(flag), started=str(started))}])
    client.put("QUEUE:HOLD", 0)
    wait_until(lambda: running(client, job_id), timeout=60)
    record = wait_until(lambda: (running(client, job_id) or {}).get("preflight"), timeout=90)
    assert record["verdict"] == "fails" and record["line"] == 5, record
    warning = f"job {job_id} is running, but its pre-flight fails at line 5"
    assert warning in client.get_text("LOG")
    assert client.get_text("LAST_ERROR").startswith(f"job {job_id} is running")
    assert client.current()["state"] == "RUNNING"
    flag.write_text("go")
    assert client.wait_for_job(job_id, timeout=30)["state"] == "DONE"
    # and the pre-flights go on: the next queued job gets its verdict
    client.put("QUEUE:HOLD", 1)
    (next_id,) = client.add([{"script": "print('next')\n"}])
    assert wait_until(lambda: verdict(client, next_id), timeout=60)["verdict"] == "ok"


FAILS_AFTER_THE_END = """\
import os, time, scriptserver
if scriptserver.simulating():  # the check ends only once the test saw the job end
    while not os.path.exists({flag!r}):
        time.sleep(0.005)  # (short sleeps are real in a dry run)
    raise RuntimeError("a problem only the check finds")
print("measured")
"""


def test_GIVEN_job_ended_before_its_check_WHEN_fails_verdict_comes_THEN_on_its_record_a_warning(
    client, server, tmp_path
):
    flag = tmp_path / "ended"
    (job_id,) = client.add([{"script": FAILS_AFTER_THE_END.format(flag=str(flag))}])
    client.put("QUEUE:HOLD", 0)  # it starts 0.5 s later, its check still waiting for the flag
    ended = client.wait_for_job(job_id, timeout=60)
    assert ended["state"] == "DONE" and ended["preflight"] is None, ended
    flag.write_text("seen")  # now its check fails, after the job's end

    record = wait_until(lambda: client.finished(job_id)["preflight"], timeout=60)
    assert (record["verdict"], record["line"]) == ("fails", 5), record
    assert parse_iso(record["checked"]) > parse_iso(ended["finished"])
    warning = f"job {job_id} ended DONE, but its pre-flight fails at line 5"
    assert warning in client.get_text("LOG")
    assert client.get_text("LAST_ERROR:TEXT").startswith(warning)
    assert client.get("QUEUE:HOLD") == 0  # a warning: nothing held
    assert client.history()[0]["id"] == job_id  # its place in the history is kept
    shown = cli(server, "show", str(job_id))
    assert shown.returncode == 0, shown.stderr
    assert "pre-flight: fails at line 5: RuntimeError: a problem only the check finds" in (
        shown.stdout
    )


FAILS = """\
print("counting run 42")
counts = {"run 42": 1000}
print("normalised", counts["run 43"] / 10)
"""


def test_GIVEN_failing_job_WHEN_it_ends_THEN_its_log_ends_with_the_traceback(client, server):
    (job_id,) = client.add([{"script": FAILS}])
    client.put("QUEUE:ON_INVALID", 1)  # its pre-flight fails too: run it anyway
    try:
        client.put("QUEUE:HOLD", 0)
        job = client.wait_for_job(job_id, timeout=60)
    finally:
        client.put("QUEUE:ON_INVALID", 0)
    assert job["state"] == "FAILED"
    traceback = job["error"]["traceback"]
    assert traceback.startswith("Traceback (most recent call last):\n")
    assert traceback.rstrip().endswith("KeyError: 'run 43'")
    assert f'File "<job {job_id}>", line 3, in <module>' in traceback
    expected_end = "counting run 42\n" + traceback.rstrip("\n") + "\n"
    assert client.output(job_id).endswith(expected_end)  # JOB:OUTPUT
    log = (server.data_dir / "logs" / f"job-{job_id}.log").read_text()
    assert log.endswith(expected_end)
    # CURRENT:OUTPUT keeps the last job's output until the next starts
    assert client.get_text("CURRENT:OUTPUT").endswith(expected_end)
    shown = cli(server, "log", str(job_id))
    assert shown.returncode == 0 and shown.stdout.endswith(expected_end), shown.stdout
