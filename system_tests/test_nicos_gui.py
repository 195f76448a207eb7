"""The IBEX GUI's view of the NICOS bridge: what its user sees and can do, by its own rules.

One IOC for the module. Every test drives it as the GUI does (`scriptserver_ioc.nicos.client`:
the 1 s status job of `getstatus` + `getmessages`, its millisecond rounding and "newer than
the last shown" rule, its buttons enabled and sending per state) and checks the same state
over Channel Access. Each test leaves the server idle, its queue empty and running.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import IOC, _end_jobs_of, wait_until

zmq = pytest.importorskip("zmq")

from scriptserver_ioc.client.client import ScriptServerClient  # noqa: E402
from scriptserver_ioc.nicos import protocol as p  # noqa: E402
from scriptserver_ioc.nicos.client import (  # noqa: E402
    RESUME_TEXT,
    GuiClient,
    NicosError,
    StatusPoller,
)
from scriptserver_ioc.nicos.credentials import hash_line  # noqa: E402
from scriptserver_ioc.nicos.snapshot import HELD_NOTICE  # noqa: E402

LOGIN, PASSWORD = "ibex", "a-test-password"
RUNS = 120.0
"""Seconds a test waits at most for jobs to run (the machine may be shared and busy)."""
PATIENT_MS = 30_000
"""How long the GUI of a test that checks what it shows (not how soon) waits for a reply."""


@pytest.fixture(scope="module")
def bridge(tmp_path_factory):
    """One IOC serving the NICOS protocol for the module; `.nicos` is its address."""
    import socket

    data = tmp_path_factory.mktemp("nicos-gui") / "data"
    data.mkdir()
    (data / "nicos-credentials.txt").write_text(hash_line(LOGIN, PASSWORD) + "\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ioc = IOC(data, ["--nicos-port", str(port)])
    ioc.start()
    ioc.nicos = f"tcp://127.0.0.1:{port}"
    yield ioc
    ioc.stop()
    _end_jobs_of(data)


@pytest.fixture
def ca(bridge):
    """A Channel Access client; the server is idle, its queue empty and running after."""
    client = ScriptServerClient(bridge.prefix)
    yield client
    client.put("QUEUE:ON_ERROR", 0)
    client.put("QUEUE:HOLD", 0)
    if client.queue():
        client.put("QUEUE:CLEAR", 1)
    wait_until(lambda: client.get("STATE") == 0, timeout=RUNS)


@pytest.fixture
def gui(bridge):
    """The GUI: its session polled every second, its view and buttons (`StatusPoller`)."""
    client = GuiClient(bridge.nicos, receive_timeout_ms=PATIENT_MS)
    client.connect(LOGIN, PASSWORD)
    poller = StatusPoller(client).start()
    yield poller
    poller.stop()
    client.close()
    assert poller.failures == []  # no error (how soon: bench/bench_nicos.py, the GUI's 500 ms)


def shown_lines(gui: StatusPoller) -> list[str]:
    """Every line the output pane shows, in order (a message may hold several lines)."""
    return "".join(entry[3] for entry in gui.messages).splitlines()


def index_of(lines: list[str], pattern: str) -> int:
    """Index of the first line matching `pattern` (a regular expression)."""
    return next(i for i, line in enumerate(lines) if re.fullmatch(pattern, line))


def test_GIVEN_script_failed_and_queue_held_WHEN_gui_presses_resume_THEN_next_script_runs(gui, ca):
    failing = gui.client.request("queue", "fails", "print('about to fail')\nraise ValueError(3)\n")
    after = gui.client.request("queue", "after", "print('the next script ran')\n")
    paused = gui.wait_for(lambda s, m: s["status"][0] == p.STATUS_INBREAK, RUNS)
    # what the GUI shows: paused, the failed script's name, Resume and Stop enabled
    assert gui.view.readback == "Queue status: Paused"
    assert gui.view.info == "Execution finished (Paused) : fails"
    assert gui.view.buttons_enabled and gui.view.toggle_text == RESUME_TEXT
    assert [r["reqid"] for r in paused["requests"]] == [after]
    # over Channel Access: the server's own rule, QUEUE:ON_ERROR HOLD, unchanged
    assert ca.get("QUEUE:HOLD") == 1 and ca.get("STATE") == 0
    assert ca.history()[0]["id"] == int(failing) and ca.history()[0]["state"] == "FAILED"
    assert [str(job["id"]) for job in ca.queue()] == [after]
    # its output pane says what failed and how to go on
    gui.wait_for(lambda s, m: any("Resume Script Execution" in e[3] for e in m))
    lines = shown_lines(gui)
    failed = index_of(lines, f"job {failing} FAILED: ValueError.*")
    notice = HELD_NOTICE.format(reason=f"Queue held after job {failing} ended FAILED")
    assert index_of(lines, "about to fail") < failed < lines.index(notice.split("\n")[0])

    assert gui.press_toggle()  # Resume: `continue`, as the GUI sends it when paused
    gui.wait_for(lambda s, m: "the next script ran\n" in [e[3] for e in m], RUNS)
    idle = gui.wait_for(lambda s, m: s["status"][0] == p.STATUS_IDLE and s["scriptname"] == "after")
    assert idle["requests"] == [] and not gui.view.buttons_enabled
    assert ca.get("QUEUE:HOLD") == 0 and ca.history()[0]["state"] == "DONE"
    assert any(f"{LOGIN}@nicos: released the queue" in e[3] for e in gui.messages), gui.pane


def test_GIVEN_held_after_failure_WHEN_gui_presses_stop_THEN_queue_emptied_and_still_held(gui, ca):
    gui.client.request("queue", "fails", "raise RuntimeError('no')\n")
    gui.client.request("queue", "waits", "print('never')\n")
    gui.wait_for(lambda s, m: s["status"][0] == p.STATUS_INBREAK and s["requests"], RUNS)
    assert gui.press_stop()  # "Stop All Scripts and Empty Queue": `stop 3`
    emptied = gui.wait_for(lambda s, m: s["requests"] == [])
    assert emptied["status"][0] == p.STATUS_INBREAK  # the hold stays, as STOP over CA leaves it
    assert ca.queue() == [] and ca.get("QUEUE:HOLD") == 1
    # a NICOS `break` sees what the GUI is shown: a paused queue
    with pytest.raises(NicosError, match=p.ALREADY_PAUSED):
        gui.client.request("break", p.BREAK_IMMEDIATE)
    assert gui.press_toggle()  # Resume releases it: the GUI shows idle after a failure
    gui.wait_for(lambda s, m: s["status"][0] == p.STATUS_IDLEEXC)
    assert gui.view.readback == "Queue status: Idle - last script failed"
    assert not gui.view.buttons_enabled and ca.get("QUEUE:HOLD") == 0
    assert gui.press_toggle() is False  # disabled when idle: nothing is sent


def test_GIVEN_held_before_script_predicted_to_fail_WHEN_gui_resumes_THEN_told_why_and_how(gui, ca):
    ca.put("QUEUE:HOLD", 1)  # a hold set over CA shows as paused too
    gui.wait_for(lambda s, m: s["status"][0] == p.STATUS_INBREAK)
    doomed = gui.client.request("queue", "doomed", "print('x')\nraise ValueError('bad')\n")
    wait_until(lambda: (ca.queue()[0].get("preflight") or {}).get("verdict") == "fails", RUNS)
    gui.wait_for(lambda s, m: any("its Resume is refused while the next" in e[3] for e in m))
    assert gui.press_toggle()  # refused: the GUI shows its own "Error sending" entry
    said = gui.wait_for(lambda s, m: any(e[3].startswith("Error sending continue") for e in m))
    error = next(e[3] for e in gui.messages if e[3].startswith("Error sending continue"))
    assert f"script {doomed} (doomed) is predicted to fail" in error
    assert "dequeue or edit it" in error and said["requests"][0]["reqid"] == doomed
    assert ca.history() == [] or ca.history()[0]["id"] != int(doomed)  # it never ran
    gui.client.request("unqueue", doomed)  # as "Dequeue Selected Script" sends it
    gui.wait_for(lambda s, m: s["requests"] == [])
    assert gui.press_toggle()  # now Resume releases the queue
    gui.wait_for(lambda s, m: s["status"][0] in (p.STATUS_IDLE, p.STATUS_IDLEEXC))
    assert ca.get("QUEUE:HOLD") == 0


def test_GIVEN_on_error_continue_WHEN_script_fails_THEN_next_runs_as_in_nicos(gui, ca):
    ca.put("QUEUE:ON_ERROR", 1)  # CONTINUE: NICOS's own rule, for every client
    gui.client.request("queue", "fails", "raise KeyError('x')\n")
    after = gui.client.request("queue", "after", "print('ran after the failure')\n")
    gui.wait_for(lambda s, m: "ran after the failure\n" in [e[3] for e in m], RUNS)
    gui.wait_for(lambda s, m: s["status"][0] == p.STATUS_IDLE and s["scriptname"] == "after")
    assert ca.get("QUEUE:HOLD") == 0 and ca.history()[0]["id"] == int(after)
    assert not any("Resume Script Execution" in e[3] for e in gui.messages)


FAILS = """\
print("counting run 42")
counts = {"run 42": 1000}
print("normalised", counts["run 43"] / 10)
"""


def test_GIVEN_script_fails_WHEN_gui_polls_THEN_traceback_after_its_last_line_as_a_console(
    gui, ca, tmp_path
):
    """The output pane shows a failed script's traceback as a console does (#18)."""
    ca.put("QUEUE:ON_ERROR", 1)  # CONTINUE: nothing to release afterwards
    reqid = gui.client.request("queue", "fails", FAILS)
    gui.wait_for(lambda s, m: any(e[3].startswith(f"job {reqid} FAILED") for e in m), RUNS)
    # what a console shows for the same script: python running it from a file
    script = tmp_path / "fails.py"
    script.write_text(FAILS)
    console = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60
    )
    assert console.returncode == 1 and console.stdout == "counting run 42\n"
    expected = console.stderr.replace(f'"{script}"', f'"<job {reqid}>"').splitlines()
    assert expected[0] == "Traceback (most recent call last):" and len(expected) >= 4
    assert expected[-1] == "KeyError: 'run 43'"
    lines = shown_lines(gui)
    last_output = index_of(lines, "counting run 42")
    shown = lines[last_output + 1 : last_output + 1 + len(expected)]
    assert shown == expected, "\n".join(lines[last_output:])
    assert index_of(lines, f"job {reqid} FAILED: KeyError.*") > last_output + len(expected)
    # the same traceback is the job's record over Channel Access
    assert ca.history()[0]["error"]["traceback"].splitlines() == expected


def test_GIVEN_quick_scripts_WHEN_each_queued_while_idle_THEN_all_output_before_its_end(gui, ca):
    # each starts and ends between two looks of the server at the job's output
    quick = "print('quick {n} first')\nprint('quick {n} last')\n"
    ids = []
    for n in range(4):
        ids.append(gui.client.request("queue", f"quick {n}", quick.format(n=n)))
        gui.wait_for(lambda s, m, n=n: s["status"][0] < 0 and s["scriptname"] == f"quick {n}", RUNS)
    # a job whose last lines come just before it ends
    ids.append(
        gui.client.request(
            "queue",
            "late lines",
            "import time\ntime.sleep(0.3)\nprint('late A')\nprint('late B')\n",
        )
    )
    gui.wait_for(lambda s, m: any(re.match(f"job {ids[-1]} DONE", e[3]) for e in m), RUNS)
    lines = shown_lines(gui)
    for n, reqid in enumerate(ids[:4]):
        start, end = (
            index_of(lines, f"job {reqid} started: quick {n}"),
            index_of(lines, f"job {reqid} DONE"),
        )
        assert (
            start < index_of(lines, f"quick {n} first") < index_of(lines, f"quick {n} last") < end
        )
    # its last lines before any record of its end (the runner's and the core's)
    ends = [i for i, line in enumerate(lines) if re.match(f"job {ids[-1]} (ended|DONE)", line)]
    assert ends and index_of(lines, "late A") < index_of(lines, "late B") < min(ends)
    assert [job["state"] for job in ca.history()[:5]] == ["DONE"] * 5


def test_GIVEN_queue_refused_WHEN_gui_polls_THEN_reason_in_output_pane(gui, ca):
    with pytest.raises(NicosError) as refused:  # the GUI shows "Failed to send script"
        gui.client.request("queue", "broken", "print(\n")
    reason = str(refused.value)
    assert "line 1" in reason
    gui.wait_for(lambda s, m: any(e[3] == f"Script 'broken' was not queued: {reason}\n" for e in m))
    assert ca.queue() == []
    ca.put("QUEUE:HOLD", 1)
    kept = gui.client.request("queue", "kept", "print(1)\n")
    with pytest.raises(NicosError) as edit:  # the GUI shows nothing of a refused update
        gui.client.request("update", "def (", "Updated via IBEX client", kept)
    gui.wait_for(
        lambda s, m: any(e[3] == f"Script {kept} was not updated: {edit.value}\n" for e in m)
    )
    assert ca.queue()[0]["script"] == "print(1)\n"


BURSTS = """import sys, time
for burst in range(60):
    for n in range(20):
        print(f"line {burst * 20 + n}")
    sys.stdout.flush()
    time.sleep(0.05)
"""


def test_GIVEN_bursts_of_output_WHEN_gui_polls_THEN_no_line_lost_to_ms_rounding(bridge, ca):
    # lines read at one look are added within a millisecond; a poll between two of them
    # used to hide the rest of that millisecond from the GUI (newer-than-last-shown rule)
    client = GuiClient(bridge.nicos, receive_timeout_ms=PATIENT_MS)
    client.connect(LOGIN, PASSWORD)
    gui = StatusPoller(client, period=0.02).start()  # the GUI's rules, polled 50 times faster
    try:
        reqid = client.request("queue", "bursts", BURSTS)
        gui.wait_for(lambda s, m: any(e[3].startswith(f"job {reqid} DONE") for e in m), RUNS)
    finally:
        gui.stop()
        client.close()
    assert gui.failures == []
    lines = [line for line in shown_lines(gui) if line.startswith("line ")]
    assert lines == [f"line {i}" for i in range(1200)]
    millis = [p.gui_millis(entry[1]) for entry in gui.messages]
    assert millis == sorted(set(millis))
