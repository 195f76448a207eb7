"""`scriptserver watch` against a real IOC: piped, and live under a pseudo-terminal."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import threading

import pytest
from conftest import ROOT, wait_until

fcntl = pytest.importorskip("fcntl")  # pseudo-terminals: POSIX only
termios = pytest.importorskip("termios")

SHORT = "import scriptserver\nscriptserver.sleep(0.3)\nprint('short done')\n"
LONG = (
    "import scriptserver\nscriptserver.progress(10, 'warming up')\n"
    "for i in range(600):\n    scriptserver.sleep(0.05)\n"
)


@pytest.fixture
def ioc(start_ioc):
    """An IOC without pre-flight dry runs: these jobs fail or wait on purpose."""
    return start_ioc(["--preflight-workers", "0"])


def three_jobs(client, first: str = SHORT) -> list[int]:
    """A short job, a long one (to be aborted), a short one; a group of three."""
    tags = [{"group": "T scan", "index": n, "count": 3} for n in (1, 2, 3)]
    scripts = [first, LONG, SHORT]
    return client.add([{"script": s, "tags": t} for s, t in zip(scripts, tags)])


def watch_command(ioc) -> list[str]:
    return [sys.executable, "-m", "scriptserver_ioc.client.cli", "--prefix", ioc.prefix]


class Terminal:
    """A child process on a pseudo-terminal (120x40); everything it writes is collected."""

    def __init__(self, args: list[str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
        self.process = subprocess.Popen(
            args, cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.master = master
        self.chunks: list[bytes] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO once the child has exited and the pty is closed
                return
            if not data:
                return
            self.chunks.append(data)

    @property
    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", "replace")

    def wait(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout)
        self.reader.join(5)
        os.close(self.master)
        return code


def test_GIVEN_three_jobs_WHEN_middle_aborted_THEN_piped_watch_prints_results_and_exits(
    client, ioc, tmp_path
):
    flag = tmp_path / "go"
    waits = f"import pathlib, scriptserver\nwhile not pathlib.Path({str(flag)!r}).exists():\n"
    first, middle, last = three_jobs(client, waits + "    scriptserver.sleep(0.05)\n")
    client.release()
    wait_until(lambda: client.get("CURRENT:ID") == first)
    watcher = subprocess.Popen(
        [*watch_command(ioc), "watch", "--until-idle"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(watcher.stdout), daemon=True)
    reader.start()
    wait_until(lambda: any(f"job {first}" in line for line in lines))
    flag.touch()  # watching: let the first job end
    wait_until(lambda: any("line 4: scriptserver.sleep(0.05)" in line for line in lines))
    client.abort()
    assert watcher.wait(30) == 0, watcher.stderr.read()
    reader.join(5)
    out, err = "".join(lines), watcher.stderr.read()
    assert f"job {first} " in out and "DONE" in out
    assert f"job {middle} " in out and "ABORTED" in out and "JobAborted" in out
    assert "[T scan 2 of 3]" in out and "line 4: scriptserver.sleep(0.05)" in out
    assert f"queue held after job {middle} was aborted; 1 job(s) waiting; watch ends" in out
    assert out.index(f"job {first} 'script") < out.index(f"job {middle} 'script")
    assert "Traceback" not in err and "caRepeater" not in err
    assert client.queue()[0]["id"] == last


def test_GIVEN_terminal_WHEN_watching_pause_and_abort_THEN_live_panel_shows_state_and_exits(
    client, ioc
):
    first, middle, last = three_jobs(client)
    client.set_on_error("CONTINUE")
    client.release()
    wait_until(lambda: client.get("CURRENT:ID") == middle and client.get("CURRENT:LINE") == 4)
    terminal = Terminal([*watch_command(ioc), "watch", "--until-idle"])
    wait_until(lambda: "RUNNING" in terminal.text and "remaining" in terminal.text)
    client.pause()
    wait_until(lambda: "PAUSED" in terminal.text)
    client.resume()
    client.skip(middle)  # ends it as SKIPPED and the queue goes on to the last job
    assert terminal.wait(30) == 0
    text = terminal.text
    assert "T scan 2 of 3" in text and "warming up" in text and "elapsed" in text
    assert "line 4: scriptserver.sleep(0.05)" in text and "finishes" in text
    assert f"job {middle} " in text and "SKIPPED" in text
    assert f"job {last} " in text and "DONE" in text
    assert "idle, queue empty; watch ends" in text
    assert "Traceback" not in text and "caRepeater" not in text


def test_GIVEN_watch_WHEN_ctrl_c_THEN_exits_130_without_traceback(client, ioc):
    (job,) = client.add({"script": LONG})
    client.release()
    wait_until(lambda: client.get("CURRENT:ID") == job)
    terminal = Terminal([*watch_command(ioc), "watch"])
    wait_until(lambda: "RUNNING" in terminal.text)
    terminal.process.send_signal(signal.SIGINT)  # what Ctrl-C at the terminal sends
    assert terminal.wait(30) == 130, terminal.text
    assert "stopped watching" in terminal.text and "Traceback" not in terminal.text
    assert client.get("CURRENT:ID") == job  # the server carries on
    client.abort(kill=True)  # a job outlives its IOC: end it here
    assert client.wait_for_job(job, timeout=30)["state"] == "ABORTED"


def test_GIVEN_idle_server_WHEN_watching_THEN_waits_for_work_and_follows_it(client, ioc):
    terminal = Terminal([*watch_command(ioc), "watch"])
    wait_until(lambda: "waiting for a job" in terminal.text)
    (job,) = client.add({"script": SHORT})
    client.release()
    wait_until(lambda: f"job {job} " in terminal.text and "DONE" in terminal.text)
    # idle again: still watching, not ended
    wait_until(lambda: client.get("LAST:ID") == job)
    assert terminal.process.poll() is None, terminal.text
    terminal.process.send_signal(signal.SIGINT)
    assert terminal.wait(30) == 130, terminal.text
    assert "Traceback" not in terminal.text
