"""A dry run never acts on the world: files, programs, the network (job/sim_isolation.py).

Each test dry-runs a real script in a real dry-run process (``run_dry``) against a real
directory, then compares the directory, byte for byte, with what it was before.
"""

from __future__ import annotations

import http.server
import socket
import sys
import threading
from pathlib import Path

import pytest

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.validate.dryrun import HALTED, run_dry
from scriptserver_ioc.validate.preflight import preflight_record

COMMANDS = Path(__file__).parent / "validate_corpus" / "commands"

EFFECTS = """\
import os, shutil, pathlib, tempfile
d = {d!r}
with open(os.path.join(d, "log.txt"), "a") as f:
    f.write("one more line\\n")
with open(os.path.join(d, "results.csv"), "w") as f:
    f.write("run,counts\\n1,42\\n")
assert open(os.path.join(d, "results.csv")).read().endswith("1,42\\n")
assert open(os.path.join(d, "log.txt")).read() == "first line\\none more line\\n"
os.remove(os.path.join(d, "old.txt"))
assert not os.path.exists(os.path.join(d, "old.txt"))
os.rename(os.path.join(d, "a.txt"), os.path.join(d, "b.txt"))
assert open(os.path.join(d, "b.txt")).read() == "a"
os.makedirs(os.path.join(d, "archive", "2026"))
shutil.copy(os.path.join(d, "b.txt"), os.path.join(d, "archive", "copy.txt"))
shutil.move(os.path.join(d, "log.txt"), os.path.join(d, "archive"))
pathlib.Path(d, "note.txt").write_text("note")
assert pathlib.Path(d, "note.txt").read_text() == "note"
os.chmod(os.path.join(d, "keep.txt"), 0o600)
with tempfile.NamedTemporaryFile("w", dir=d, delete=False) as handle:
    handle.write("atomic")
os.replace(handle.name, os.path.join(d, "atomic.txt"))
shutil.rmtree(os.path.join(d, "old_runs"))
listing = sorted(os.listdir(d))
assert listing == ["archive", "atomic.txt", "b.txt", "keep.txt", "note.txt", "results.csv"], listing
assert sorted(os.listdir(os.path.join(d, "archive"))) == ["2026", "copy.txt", "log.txt"]
print("all effects seen by the script")
"""


def snapshot(root: Path) -> dict:
    """Every path under root with its bytes (None for directories) and mode."""
    return {
        str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes(), p.stat().st_mode)
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def world(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "log.txt").write_text("first line\n")
    (d / "old.txt").write_text("old")
    (d / "a.txt").write_text("a")
    (d / "keep.txt").write_text("keep")
    (d / "old_runs").mkdir()
    (d / "old_runs" / "run1.nxs").write_bytes(b"\x00\x01")
    return d


def dry(source, **kwargs):
    kwargs.setdefault("time_limit", 60)  # for one that hangs; a loaded machine is slow
    return run_dry(source, filename="/instrument/scripts/job.py", **kwargs)


def test_GIVEN_script_with_file_effects_WHEN_dry_run_THEN_it_sees_them_and_nothing_changed(world):
    before = snapshot(world)
    result = dry(EFFECTS.format(d=str(world)))
    assert result["error"] is None, result
    assert "all effects seen by the script" in result["output"]
    assert snapshot(world) == before
    withheld = result["withheld"]
    assert f"would remove `{world / 'old.txt'}` (line 9)" in withheld
    assert f"would rename `{world / 'a.txt'}` to `{world / 'b.txt'}` (line 11)" in withheld
    assert f"would make the directory `{world / 'archive'}` (line 13)" in withheld
    assert f"would change the mode of `{world / 'keep.txt'}` (line 18)" in withheld
    assert f"would remove the directory tree `{world / 'old_runs'}` (line 22)" in withheld
    assert withheld[-1].startswith("wrote 5 files to its scratch space")
    record = preflight_record(result, [], 1)
    assert record["verdict"] == "ok" and record["withheld"] == withheld


def test_GIVEN_script_WHEN_run_for_real_THEN_same_effects_happen(world):
    """The isolation is only in dry runs: a plain interpreter does everything once."""
    import subprocess

    done = subprocess.run([sys.executable, "-c", EFFECTS.format(d=str(world))], timeout=60)
    assert done.returncode == 0
    assert not (world / "old.txt").exists() and (world / "b.txt").read_text() == "a"
    assert (world / "archive" / "log.txt").read_text() == "first line\none more line\n"


@pytest.mark.parametrize(
    "call, program",
    [
        ("subprocess.run(['reduce.exe', '--run', '42'])", "reduce.exe"),
        ("os.system('gnuplot plot.gp > out.png')", "gnuplot"),
        ("subprocess.check_output('echo hi', shell=True)", "(`echo`)"),
        ("os.execv('/usr/bin/true', ['true'])", "true"),
        ("os.spawnl(os.P_WAIT, '/usr/bin/true', 'true')", "fork"),
        ("multiprocessing.Process(target=print).start()", "multiprocessing"),
    ],
)
def test_GIVEN_script_running_a_program_WHEN_dry_run_THEN_unknown_naming_line_and_program(
    world, call, program
):
    marker = world / "after"
    source = (
        "import os, subprocess, multiprocessing, time\n"
        "time.sleep(30)  # counted: the job takes at least this\n"
        "try:\n"
        f"    {call}\n"
        "except Exception as exc:\n"
        "    print('swallowed', exc)\n"
        f"open({str(marker)!r}, 'w').write('went on')\n"
    )
    result = dry(source)
    error = result["error"]
    assert error["type"] == HALTED and error["line"] == 4, result
    assert error["message"].startswith("line 4 ") and program in error["message"]
    assert error["message"].endswith("; not checked past it")
    assert "swallowed" not in result["output"]
    assert not marker.exists()
    record = preflight_record(result, [], 1)
    assert record["verdict"] == "unknown" and record["message"] == error["message"]
    assert record["estimate"] is None  # not counted past the stop, but at least:
    partial = record["partial_estimate"]  # (the virtual clock also counts real time)
    assert partial["line"] == 4 and 30.0 <= partial["seconds"] <= 30.0 + result["real_seconds"]


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - the handler's API
        length = int(self.headers.get("Content-Length") or 0)
        self.received.append(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Recorder.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Recorder.received
    server.shutdown()
    server.server_close()


POST = """\
import urllib.request
print("run done")
urllib.request.urlopen(urllib.request.Request({url!r}, data=b"run 42 done"), timeout=5)
"""
RAW_SOCKET = """\
import socket
s = socket.create_connection(("127.0.0.1", {port}), timeout=5)
s.sendall(b"POST /hook HTTP/1.0\\r\\nContent-Length: 3\\r\\n\\r\\nraw")
"""


def test_GIVEN_script_posting_to_a_webhook_WHEN_dry_run_THEN_server_receives_nothing(webhook):
    url, received = webhook
    result = dry(POST.format(url=url))
    assert result["error"]["type"] == HALTED
    assert result["error"]["message"] == f"line 3 sends a request to `{url}`; not checked past it"
    port = url.split(":")[2].split("/")[0]
    raw = dry(RAW_SOCKET.format(port=port))
    assert raw["error"]["message"].startswith(f"line 2 connects to `127.0.0.1:{port}`")
    assert received == []
    import subprocess

    subprocess.run([sys.executable, "-c", POST.format(url=url)], timeout=30, check=True)
    assert received == [b"run 42 done"]  # the same script, run for real, does post


MAIL = """\
import smtplib
from email.message import EmailMessage
message = EmailMessage()
message["Subject"] = "run 42 done"
with smtplib.SMTP("127.0.0.1", {port}, timeout=5) as server:
    server.send_message(message, "inst@example.org", ["contact@example.org"])
"""


def test_GIVEN_script_sending_mail_WHEN_dry_run_THEN_no_connection_and_unknown(listener):
    port, accepted = listener
    result = dry(MAIL.format(port=port))
    assert result["error"]["type"] == HALTED
    assert result["error"]["message"] == (
        f"line 5 connects to a mail server (`127.0.0.1:{port}`); not checked past it"
    )
    assert accepted == []


KAFKA = """\
import confluent_kafka
from confluent_kafka.admin import AdminClient
from {module} import {client}
client = {client}({{"bootstrap.servers": "127.0.0.1:{port}", "group.id": "g"}})
print("made", len(client) if hasattr(client, "produce") else "")
client.flush() if hasattr(client, "flush") else None
client.{use}
"""


@pytest.fixture
def listener():
    """A TCP port on loopback that counts the connections made to it."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def accept():
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()
    for connection in accepted:
        connection.close()


@pytest.mark.parametrize(
    "module, client, use, line, effect",
    [
        (
            "confluent_kafka",
            "Producer",
            "produce('runs', b'42')",
            7,
            "publishes to Kafka (topic `runs` on ",
        ),
        (
            "confluent_kafka",
            "SerializingProducer",
            "produce('runs', value=b'x')",
            7,
            "publishes to Kafka (topic `runs` on ",
        ),
        ("confluent_kafka", "Consumer", "subscribe(['runs'])", 4, "connects to Kafka ("),
        (
            "confluent_kafka.admin",
            "AdminClient",
            "list_topics(timeout=1)",
            4,
            "connects to Kafka (",
        ),
    ],
)
def test_GIVEN_script_using_kafka_WHEN_dry_run_THEN_no_connection_and_unknown_naming_line(
    listener, module, client, use, line, effect
):
    """confluent-kafka's C library opens its own sockets, which no audit event shows.

    A producer can be made (ibex_bluesky_core's get_run_engine() makes one for a callback
    a dry run does not run); it connects to nothing, and the dry run stops where it would
    publish. A consumer or an admin client stops the dry run where it is made.
    """
    pytest.importorskip("confluent_kafka")
    port, accepted = listener
    result = dry(KAFKA.format(module=module, client=client, port=port, use=use))
    assert result["error"]["type"] == HALTED, result
    assert result["error"]["message"] == (
        f"line {line} {effect}`127.0.0.1:{port}`); not checked past it"
    )
    assert accepted == []
    assert preflight_record(result, [], 1)["verdict"] == "unknown"


def test_GIVEN_libraries_WHEN_imported_and_used_in_a_dry_run_THEN_they_work_and_write_nothing(
    world,
):
    pytest.importorskip("numpy")
    pytest.importorskip("matplotlib")
    before = snapshot(world)
    source = f"""\
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
d = {str(world)!r}
np.save(d + "/counts.npy", np.arange(5))
np.savetxt(d + "/counts.txt", np.arange(3))
assert list(np.load(d + "/counts.npy")) == [0, 1, 2, 3, 4]
plt.plot([1, 2, 3])
plt.savefig(d + "/plot.png")
print("saved")
"""
    result = dry(source)
    assert result["error"] is None, result
    assert snapshot(world) == before
    assert result["withheld"][-1].startswith("wrote 3 files to its scratch space")


def test_GIVEN_genie_python_WHEN_imported_in_a_dry_run_THEN_it_imports_and_acts_on_nothing(world):
    pytest.importorskip("genie_python")
    before = snapshot(world)
    result = dry("from genie_python import genie as g\ng.begin()\ng.end()\nprint('genie ok')\n")
    assert result["error"] is None, result
    assert "genie ok" in result["output"]
    assert snapshot(world) == before


MARKED = '''\
import os
import scriptserver

@scriptserver.dry_run_stop
def reduce_run(number: int):
    """Start the reduction of a run."""
    os.system("reduce.exe " + str(number))

@scriptserver.dry_run_safe
def write_cache(path: str):
    """Keep a cache of sample names."""
    with open(path, "w") as handle:
        handle.write("cache")
'''


def test_GIVEN_commands_marked_safe_or_stop_WHEN_dry_run_THEN_safe_acts_and_stop_ends_it(tmp_path):
    commands = tmp_path / "commands"
    commands.mkdir()
    (commands / "reduction.py").write_text(MARKED)
    job_commands = Catalogue([commands]).job_commands()
    cache = tmp_path / "cache.txt"
    source = f"write_cache({str(cache)!r})\nreduce_run(42)\nprint('after')\n"
    result = dry(source, commands=job_commands, command_dirs=[commands])
    assert cache.read_text() == "cache"  # marked safe: done for real
    assert result["error"]["type"] == HALTED
    assert result["error"]["message"] == (
        "line 2 calls `reduce_run`, marked to stop dry runs; not checked past it"
    )


def test_GIVEN_command_job_with_file_effects_WHEN_dry_run_THEN_nothing_changed(world):
    job_commands = Catalogue([COMMANDS]).job_commands()
    before = snapshot(world)
    source = f"import os\nos.remove({str(world / 'old.txt')!r})\ncount(minutes=1)\n"
    result = dry(source, commands=job_commands, command_dirs=[COMMANDS])
    assert result["ok"], result
    assert snapshot(world) == before


CHECKED = '''\
import os
import subprocess

MARKER = {marker!r}


def scan(run: int):
    """A command whose checks act."""


def validate_scan(run):
    os.remove(MARKER)
    with open(MARKER + ".new", "w") as handle:
        handle.write("written by a check")


def estimate_scan(run):
    subprocess.run(["reduce.exe", str(run)])
    return 10.0
'''


def test_GIVEN_companions_with_effects_WHEN_checked_THEN_nothing_done_and_not_checked(tmp_path):
    from scriptserver_ioc.validate.companions import CompanionRunner

    marker = tmp_path / "marker.txt"
    marker.write_text("keep me")
    commands = tmp_path / "commands"
    commands.mkdir()
    (commands / "scanning.py").write_text(CHECKED.format(marker=str(marker)))
    runner = CompanionRunner(sys.executable, [commands], timeout=5.0)
    try:
        entry = {"name": "scan", "module": "scanning", "path": str(commands / "scanning.py")}
        result = runner.check(dict(entry, kind="function"), {"run": 1}, revision=1)
    finally:
        runner.close()
    assert result.error is None
    assert result.estimate is None
    assert result.problem == ("estimate_scan runs a program (`reduce.exe`); not checked past it")
    assert marker.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["commands", "marker.txt"]
