"""The NICOS protocol bridge: a real IOC with --nicos-port, driven as the IBEX GUI drives it.

Every test talks ZeroMQ to the IOC subprocess and checks the same state over Channel Access.
The GUI-like client (`scriptserver_ioc.nicos.client`) fails a request that takes more than
500 ms, as the GUI disconnects then.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest
from conftest import ROOT, wait_until

zmq = pytest.importorskip("zmq")

from scriptserver_ioc.client.client import ScriptServerClient  # noqa: E402
from scriptserver_ioc.nicos import protocol as p  # noqa: E402
from scriptserver_ioc.nicos.client import GuiClient, NicosError, StatusPoller  # noqa: E402
from scriptserver_ioc.nicos.credentials import hash_line  # noqa: E402

PATIENT_MS = 30_000
"""How long a poller checking what the GUI shows (not how soon) waits for a reply."""

LOGIN, PASSWORD = "ibex", "a-test-password"
SLOW = "import time\nfor i in range(200):\n    time.sleep(0.05)\n"


def _free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def bridge(start_ioc, tmp_path):
    """An IOC serving the NICOS protocol; `.nicos` is its address."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "nicos-credentials.txt").write_text(
        "# the GUI's login\n" + hash_line(LOGIN, PASSWORD) + "\n"
    )
    port = _free_tcp_port()
    ioc = start_ioc(["--nicos-port", str(port)], data_dir=data)
    ioc.nicos = f"tcp://127.0.0.1:{port}"
    return ioc


@pytest.fixture
def gui(bridge):
    """A logged-in GUI connection."""
    client = GuiClient(bridge.nicos)
    client.connect(LOGIN, PASSWORD)
    yield client
    client.close()


@pytest.fixture
def ca(bridge):
    """A Channel Access client of the same IOC."""
    return ScriptServerClient(bridge.prefix)


def raw(address: str, frames: list[bytes], socket_type: int = zmq.REQ) -> list[bytes]:
    """Send frames on a fresh socket and return the reply frames (2 s timeout)."""
    sock = zmq.Context.instance().socket(socket_type)
    sock.setsockopt(zmq.RCVTIMEO, 2000)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    try:
        sock.send_multipart(frames)
        return sock.recv_multipart()
    finally:
        sock.close()


def error_of(gui: GuiClient, command: str, *args) -> str:
    with pytest.raises(NicosError) as info:
        gui.request(command, *args)
    return str(info.value)


def test_GIVEN_bridge_WHEN_handshake_THEN_banner_login_and_session_rules_as_nicos(bridge):
    client = GuiClient(bridge.nicos)
    assert error_of(client, "getstatus") == '"session expired"'  # NICOS sends it as JSON
    banner = client.request("getbanner")
    assert banner["protocol_version"] == 23 and banner["serializer"] == "json"
    assert isinstance(banner["rsakey"], dict)  # the GUI reads it as Map<String,String>
    assert error_of(client, "getstatus") == "invalid credentials"  # login must come next
    assert error_of(client, "getstatus") == '"session expired"'  # and the session ended
    client.request("getbanner")
    wrong = {"login": LOGIN, "passwd": "wrong"}
    assert error_of(client, "authenticate", wrong) == "Invalid username or password!"
    client.request("getbanner")
    blank = {"login": " ", "passwd": PASSWORD}
    assert error_of(client, "authenticate", blank) == "No username, please identify yourself!"
    client.request("getbanner")
    assert client.request("authenticate", {"login": LOGIN, "passwd": PASSWORD}) == {
        "user_level": 20
    }
    assert client.request("getstatus")["status"] == [-1, -1]
    assert error_of(client, "exec", "print(1)") == "unknown command: exec"
    assert error_of(client, "getmessages") == "invalid number of arguments"
    assert error_of(client, "getmessages", "lots") == "exception occurred executing command"
    assert "refused" in bridge.log() and "a-test-password" not in bridge.log()
    client.close()


def test_GIVEN_idle_server_WHEN_getstatus_THEN_shape_the_gui_reads(gui):
    status = gui.status()
    assert status["status"] == [-1, -1]
    assert status["script"] == "" and status["scriptname"] == ""
    assert status["requests"] == []
    entries = gui.request("getmessages", "10")
    assert entries, "the server's start-up log is in the messages"
    for entry in entries:
        assert len(entry) == 6 and isinstance(entry[1], float) and entry[3].endswith("\n")
    times = [entry[1] for entry in gui.request("getmessages", "*")]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert len(gui.request("getmessages", 1)) == 1


def test_GIVEN_held_queue_WHEN_queue_commands_THEN_ca_queue_agrees(gui, ca):
    ca.put("QUEUE:HOLD", 1)
    first = gui.request("queue", "Script 1", "print('one')")
    second = gui.request("queue", "Script 2", "print('two')")
    third = gui.request("queue", "", "print('three')")
    assert all(isinstance(r, str) for r in (first, second, third))
    ca_queue = ca.queue()
    assert [str(job["id"]) for job in ca_queue] == [first, second, third]
    assert [job["name"] for job in ca_queue][:2] == ["Script 1", "Script 2"]
    requests = gui.status()["requests"]
    assert [r["reqid"] for r in requests] == [first, second, third]
    assert requests[0] == {
        "reqid": first,
        "name": "Script 1",
        "script": "print('one')",
        "user": LOGIN,
    }
    # a job queued over Channel Access appears in requests too
    (ca_id,) = ca.add({"script": "print('from CA')", "name": "CA job"})
    wait_until(lambda: gui.status()["requests"][-1]["reqid"] == str(ca_id))

    assert gui.request("rearrange", [third, first, second, str(ca_id)]) is None
    assert [str(job["id"]) for job in ca.queue()] == [third, first, second, str(ca_id)]
    # NICOS tolerates a started id at the front and a new id missing at the end
    gui.request("rearrange", ["99999", first, third])
    assert [str(job["id"]) for job in ca.queue()] == [first, third, second, str(ca_id)]
    assert error_of(gui, "rearrange", [second, "99999"]) == p.INCONSISTENT_IDS
    assert error_of(gui, "rearrange", "not a list").startswith("rearrange takes")

    assert gui.request("update", "print('edited')", "Updated via IBEX client", second) is None
    edited = next(job for job in ca.queue() if str(job["id"]) == second)
    assert edited["script"] == "print('edited')" and edited["name"] == "Script 2"
    assert error_of(gui, "update", "print(1)", "why", "424242") == p.NO_SCRIPT
    assert "line 1" in error_of(gui, "update", "print(", "why", second)
    assert next(j for j in ca.queue() if str(j["id"]) == second)["script"] == "print('edited')"

    assert gui.request("unqueue", first) is None
    assert str(first) not in [str(job["id"]) for job in ca.queue()]
    assert error_of(gui, "unqueue", first) == p.ALREADY_EXECUTING
    assert error_of(gui, "queue", "bad", "def (").startswith("QUEUE:ADD")
    assert error_of(gui, "queue", "only one") == p.INVALID_ARGUMENTS
    assert gui.request("unqueue", "*") is None
    assert ca.queue() == [] and gui.status()["requests"] == []


def test_GIVEN_running_job_WHEN_break_continue_stop_THEN_nicos_semantics_and_ca_state(gui, ca):
    for command, args in (("break", [1]), ("continue", []), ("stop", [3])):
        assert error_of(gui, command, *args) == p.NO_SCRIPT
    ca.put("QUEUE:HOLD", 1)
    gui.request("queue", "slow", SLOW)
    waiting = gui.request("queue", "next", "print('never')")
    ca.put("QUEUE:HOLD", 0)
    wait_until(lambda: gui.status()["status"][0] == p.STATUS_RUNNING)
    status = gui.status()
    assert status["scriptname"] == "slow" and status["script"] == SLOW
    assert [r["reqid"] for r in status["requests"]] == [waiting]
    assert error_of(gui, "continue") == p.NOT_PAUSED
    assert gui.request("break", 1) is None
    wait_until(lambda: ca.get("STATE") == 3)  # PAUSED
    wait_until(lambda: gui.status()["status"][0] == p.STATUS_INBREAK)
    assert gui.status()["status"][1] in (1, 2, 3)  # paused at a line of the script
    assert error_of(gui, "break", 5) == p.ALREADY_PAUSED
    assert gui.request("continue") is None
    wait_until(lambda: ca.get("STATE") == 1)  # RUNNING
    assert gui.request("break", 5) is None  # immediate
    wait_until(lambda: ca.get("STATE") == 3)
    assert gui.request("stop", 3) is None  # stopping a paused script, as NICOS allows
    assert error_of(gui, "continue") in (p.CANNOT_CONTINUE, p.NO_SCRIPT)
    wait_until(lambda: gui.status()["status"][0] in (p.STATUS_IDLE, p.STATUS_IDLEEXC))
    assert ca.queue() == [] and gui.status()["requests"] == []
    idle = gui.status()
    assert idle["scriptname"] == "slow" and idle["script"] == SLOW  # kept when idle
    assert idle["status"][1] == -1
    assert ca.get_json("HISTORY")[0]["state"] == "ABORTED"
    assert error_of(gui, "break", "soon") == p.COMMAND_FAILED


def test_GIVEN_gui_polling_WHEN_whole_session_THEN_same_state_over_ca_at_every_step(bridge, ca):
    gui = GuiClient(bridge.nicos)
    gui.connect(LOGIN, PASSWORD)
    polling = GuiClient(bridge.nicos, receive_timeout_ms=PATIENT_MS)
    polling.connect(LOGIN, PASSWORD)
    poller = StatusPoller(polling).start()
    try:
        ca.put("QUEUE:HOLD", 1)  # over CA: the jobs stay queued until released
        names = ["Scan A", "Scan B", "Scan C"]
        ids = [gui.request("queue", n, f"print('{n}')\n" + SLOW) for n in names]

        def polled_ids(status, _):
            return [r["reqid"] for r in status["requests"]]

        poller.wait_for(lambda s, m: polled_ids(s, m) == ids)
        assert [str(j["id"]) for j in ca.queue()] == ids
        gui.request("rearrange", [ids[2], ids[0], ids[1]])
        order = [ids[2], ids[0], ids[1]]
        poller.wait_for(lambda s, m: polled_ids(s, m) == order)
        assert [str(j["id"]) for j in ca.queue()] == order
        gui.request("update", "print('edited C')\n" + SLOW, "Updated via IBEX client", ids[2])
        poller.wait_for(lambda s, m: s["requests"][0]["script"].startswith("print('edited C')"))
        assert ca.queue()[0]["script"].startswith("print('edited C')")
        # vice versa: a move over CA shows in the GUI
        ca.request("QUEUE:MOVE", {"id": int(ids[1]), "to": "top"})
        order = [ids[1], ids[2], ids[0]]
        poller.wait_for(lambda s, m: polled_ids(s, m) == order)

        ca.put("QUEUE:HOLD", 0)
        running = poller.wait_for(lambda s, m: s["status"][0] == 0 and s["status"][1] > 0)
        assert running["scriptname"] == "Scan B" and ca.get("STATE") == 1
        assert ca.get_text("CURRENT:NAME") == "Scan B"
        poller.wait_for(lambda s, m: any(e[3] == "Scan B\n" for e in m))  # the job's output
        gui.request("break", 1)
        poller.wait_for(lambda s, m: s["status"][0] == 1)
        assert ca.get("STATE") == 3
        gui.request("continue")
        poller.wait_for(lambda s, m: s["status"][0] == 0)
        assert ca.get("STATE") == 1
        gui.request("stop", 3)
        idle = poller.wait_for(lambda s, m: s["status"][0] < 0 and s["requests"] == [])
        assert idle["scriptname"] == "Scan B" and idle["status"][1] == -1
        assert ca.queue() == [] and ca.get("STATE") == 0
        assert any("stopped all jobs" in e[3] for e in poller.messages)
        times = [float(e[1]) for e in poller.messages]
        assert times == sorted(times) and len(set(times)) == len(times)
    finally:
        poller.stop()
        gui.close()
        poller.client.close()
    assert poller.failures == []  # no error (how soon: bench/bench_nicos.py, the GUI's 500 ms)
    assert len(poller.latencies) >= 3


def test_GIVEN_hostile_clients_WHEN_bad_frames_and_idle_connections_THEN_errors_and_no_change(
    bridge, gui, ca
):
    ca.put("QUEUE:HOLD", 1)
    kept = gui.request("queue", "kept", "print(1)")
    address = bridge.nicos
    bad = [
        [b"getstatus"],
        [b"getstatus", b"", b"[]", b"extra"],
        [b"queue", b"", b"{not json"],
        [b"queue", b"", b'{"an": "object"}'],
        [b"\xff\xfe", b"", b"[]"],
        [b"queue", b"", b"\xff" * 10],
        [b"no such verb!", b"", b"[]"],
    ]
    for frames in bad:
        reply = raw(address, frames)
        assert reply[0] == b"error" and len(reply) == 3, (frames, reply)
    # a DEALER (no REQ envelope) is answered in its own framing
    assert raw(address, [b"getbanner", b"", b"[]"], zmq.DEALER)[0] == b"ok"
    assert raw(address, [b"\x00garbage"], zmq.DEALER)[0] == b"error"
    huge = raw(address, [b"queue", b"", json.dumps(["big", "x" * 5_000_000]).encode()])
    assert huge[0] == b"error" and b"request too large" in huge[2]
    deep = raw(address, [b"getbanner", b"", b"[" * 100_000 + b"]" * 100_000])
    assert deep[0] == b"error"

    idle = []
    for index in range(1000):
        conn = socket.create_connection(("127.0.0.1", int(address.rsplit(":", 1)[1])))
        if index % 2:
            conn.sendall(b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f garbage")
        idle.append(conn)
    sessions = []
    for _ in range(100):  # logged-in sessions that then go quiet
        client = GuiClient(address)
        client.connect(LOGIN, PASSWORD)
        sessions.append(client)
    try:
        status = gui.status()  # within the GUI's 500 ms despite 1,100 idle connections
        assert [r["reqid"] for r in status["requests"]] == [kept]
        assert [str(j["id"]) for j in ca.queue()] == [kept]
        assert ca.get("QUEUE:HOLD") == 1
    finally:
        for conn in idle:
            conn.close()
        for client in sessions:
            client.close()
    assert gui.status()["status"] == [p.STATUS_INBREAK, -1]  # held: shown paused


def test_GIVEN_nicos_port_without_credentials_WHEN_started_THEN_one_line_error(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scriptserver_ioc",
            "--data-dir",
            str(tmp_path / "d"),
            "--port",
            str(_free_tcp_port()),
            "--nicos-port",
            str(_free_tcp_port()),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "nicos-credentials.txt" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


SLOW_CHECK_COMMANDS = '''
def slow_check(seconds: float = 2.0):
    """Does nothing; checking it takes `seconds`."""


def validate_slow_check(seconds: float = 2.0):
    import time

    time.sleep(seconds)
'''


def test_GIVEN_slow_check_running_WHEN_gui_polls_and_queues_THEN_every_reply_within_500_ms(
    start_ioc, tmp_path
):
    commands = tmp_path / "commands"
    commands.mkdir()
    (commands / "slow.py").write_text(SLOW_CHECK_COMMANDS)
    data = tmp_path / "data"
    data.mkdir()
    (data / "nicos-credentials.txt").write_text(hash_line(LOGIN, PASSWORD) + "\n")
    port = _free_tcp_port()
    ioc = start_ioc(["--nicos-port", str(port)], data_dir=data, commands=commands)
    gui = GuiClient(f"tcp://127.0.0.1:{port}")
    gui.connect(LOGIN, PASSWORD)
    ca = ScriptServerClient(ioc.prefix, timeout=20)
    ca.put("QUEUE:HOLD", 1)
    ca.add({"command": "slow_check", "args": {"seconds": 0.1}})  # the checker is warm
    added = []
    adding = threading.Thread(  # a request id finds this write's reply among the GUI's
        target=lambda: added.append(
            ca.request("QUEUE:ADD", {"command": "slow_check", "args": {"seconds": 2.0}})
        )
    )
    adding.start()
    late = "not sent"
    try:
        for _ in range(10):  # each within the GUI's 500 ms, or GuiClient raises
            gui.status()
        reqid = gui.request("queue", "during the check", "print('queued')")
        try:
            late = gui.request("queue", "broken", "print(")
        except NicosError as exc:  # the core answered in time
            assert "line 1" in str(exc)
        else:  # answered ok at the deadline: the refusal comes as a message
            assert late is None
    finally:
        adding.join(20)
    assert added and added[0]["ok"]
    queued = ca.queue()
    names = [job["name"] for job in queued]
    # on a loaded machine the CA add may reach the core after the GUI's queue
    assert sorted(names[1:]) == ["during the check", "slow_check(seconds=2.0)"]
    # answered at once, or `ok` with no reqid at the deadline when the core was busy
    ours = next(job for job in queued if job["name"] == "during the check")
    assert reqid is None or reqid == str(ours["id"])
    wait_until(lambda: [r["name"] for r in gui.status()["requests"]] == names)
    if late is None:  # the refusal comes once the worker reaches it, after the check

        def refused() -> bool:
            texts = [e[3] for e in gui.request("getmessages", "*")]
            return any(t.startswith("Script 'broken' was not queued: ") for t in texts)

        wait_until(refused, timeout=20)
    gui.close()


FLOOD = """import sys
line = "x" * 99 + "\\n"
for i in range(200_000):
    sys.stdout.write(line)
print("THE END")
"""


def test_GIVEN_job_flooding_output_WHEN_gui_polls_THEN_tail_shown_and_replies_in_time(gui, ca):
    gui.request("queue", "flood", FLOOD)

    def finished() -> bool:  # every reply within 500 ms, or GuiClient raises
        status = gui.status()
        return status["status"][0] < 0 and status["scriptname"] == "flood"

    wait_until(finished, timeout=30)
    assert ca.get_json("HISTORY")[0]["state"] == "DONE"
    texts = []  # lines read at one look are packed into messages of up to 8 KB
    wait_until(
        lambda: texts.extend(e[3] for e in gui.new_messages()) or "THE END" in "".join(texts)
    )
    lines = "".join(texts).splitlines()
    assert any("bytes of output left out here; see" in t and "job-" in t for t in lines)
    assert sum(1 for t in lines if t.startswith("xxx")) < 20_000  # not all 200,000 lines
    assert len(texts) < len(lines) / 10
    log = json.loads(json.dumps(gui.request("getmessages", "*")))
    assert len(json.dumps(log)) < 5_000_000


def test_GIVEN_queued_from_gui_WHEN_ioc_restarted_THEN_same_requests_and_reqids(bridge, gui, ca):
    ca.put("QUEUE:HOLD", 1)
    reqids = [gui.request("queue", f"kept {n}", f"print({n})") for n in range(2)]
    gui.close()
    bridge.stop()
    bridge.start(new_prefix=True)
    again = GuiClient(bridge.nicos)
    again.connect(LOGIN, PASSWORD)
    requests = again.status()["requests"]
    assert [(r["reqid"], r["name"], r["user"]) for r in requests] == [
        (reqids[0], "kept 0", LOGIN),
        (reqids[1], "kept 1", LOGIN),
    ]
    again.close()
