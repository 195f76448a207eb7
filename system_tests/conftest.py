"""System-test fixtures: the real IOC in a subprocess, on loopback, driven over CA.

pyepics reads the EPICS environment once per process, so a pool of free ports is chosen
at import and every one of them is in EPICS_CA_ADDR_LIST; each IOC takes the next port
of the pool and a unique prefix. caproto re-reads the address list at every search.
The pool is drawn below the kernel's ephemeral range, so that client sockets of this or
any other process on the machine cannot take a pool port between choice and use; an IOC
that still finds its port taken is started again on the next one.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "tests"))  # last: this directory's conftest stays the one found
from waiting import wait_until  # noqa: E402  (the tests' one helper, for the system tests too)

COMMANDS = ROOT / "commands"
POOL_SIZE = 16
CA_TIMEOUT = 30.0
"""Seconds the fixtures' clients wait for a connection or a put: a failure bound generous
enough for a loaded machine (a put of a few jobs took over the client's 5 s default)."""


_PORT_RANGE = (20000, 32000)  # below Linux's default ephemeral range (32768-60999)
_PORT_TAKEN = ("Address already in use", "is in use by another Channel Access server")


def _free_port(chosen: set[int]) -> int:
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    while True:
        port = rng.randrange(*_PORT_RANGE)
        if port in chosen:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                tcp.bind(("127.0.0.1", port))
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind(("127.0.0.1", port))
        except OSError:
            continue
        chosen.add(port)
        return port


_chosen: set[int] = set()
PORTS = [_free_port(_chosen) for _ in range(POOL_SIZE)]
os.environ.update(
    EPICS_CA_AUTO_ADDR_LIST="NO",
    EPICS_CA_ADDR_LIST=" ".join(f"127.0.0.1:{port}" for port in PORTS),
    EPICS_CAS_INTF_ADDR_LIST="127.0.0.1",
    EPICS_CA_MAX_ARRAY_BYTES="40000000",
    EPICS_CAS_AUTO_BEACON_ADDR_LIST="NO",
    EPICS_CAS_BEACON_ADDR_LIST="127.0.0.1",
    # caproto's circuit connect waits this long (default 2 s): on a loaded machine it was
    # exceeded, which ended the shared context's search thread and every later test's search
    CAPROTO_DEFAULT_TIMEOUT=str(CA_TIMEOUT),
)
os.environ.pop("EPICS_CA_SERVER_PORT", None)
_port_cycle = itertools.cycle(PORTS)
_prefix_numbers = itertools.count(1)


class IOC:
    """One script server IOC process for a test.

    Args:
        data_dir: its data directory (kept across restarts).
        args: extra command-line options.
    """

    def __init__(
        self, data_dir: Path, args: list[str] | None = None, commands: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        self.args = args or []
        self.commands = commands or COMMANDS
        self.port = next(_port_cycle)
        self.prefix = f"SST{os.getpid()}N{next(_prefix_numbers)}:"
        self.process: subprocess.Popen | None = None
        self.stderr_path = data_dir.parent / f"{data_dir.name}-ioc.log"

    def start(self, timeout: float = 30.0, new_prefix: bool = False, retries: int = 3) -> IOC:
        """Start the IOC and wait for its ready line.

        Args:
            timeout: seconds to wait for the ready line.
            new_prefix: serve under a fresh prefix (after a restart: an in-process pyepics
                client, without a CA repeater, may take minutes to re-find old names).
            retries: how many other ports of the pool to try if the port is taken.
        """
        if new_prefix:
            self.prefix = f"SST{os.getpid()}N{next(_prefix_numbers)}:"
        env = dict(os.environ)
        env.pop("EPICS_CA_ADDR_LIST", None)
        env["EPICS_CA_ADDR_LIST"] = f"127.0.0.1:{self.port}"
        env.pop("EPICS_CA_MAX_ARRAY_BYTES", None)  # the server's own choice, as deployed
        env["PYTHONUNBUFFERED"] = "1"
        # the demo beamline's state (commands/_beamline.py) per IOC, not one file in the
        # temp directory shared by every suite running on the machine
        demo_state = self.data_dir.parent / f"{self.data_dir.name}-beamline.json"
        env.setdefault("SCRIPTSERVER_DEMO_STATE", str(demo_state))
        cmd = [
            sys.executable,
            "-m",
            "scriptserver_ioc",
            "--port",
            str(self.port),
            "--prefix",
            self.prefix,
            "--data-dir",
            str(self.data_dir),
            "--commands",
            str(self.commands),
            *self.args,
        ]
        log_size = self.stderr_path.stat().st_size if self.stderr_path.exists() else 0
        with open(self.stderr_path, "ab") as stderr:
            self.process = subprocess.Popen(
                cmd, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=ROOT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if "ready" in line:
                return self
            if not line and self.process.poll() is not None:
                break
        if self.process.poll() is not None and retries > 0:
            with open(self.stderr_path, "rb") as log:
                log.seek(log_size)
                said = log.read().decode(errors="replace")
                taken = any(reason in said for reason in _PORT_TAKEN)
            if taken:  # another process took the port after it was chosen: use the next
                self.port = next(_port_cycle)
                return self.start(timeout, new_prefix, retries - 1)
        raise RuntimeError(f"the IOC did not start:\n{self.stderr_path.read_text()[-3000:]}")

    def stop(self, kill: bool = False, check: bool = True, sig: int | None = None) -> int | None:
        """Stop the IOC (SIGTERM, `sig`, or SIGKILL with `kill`) and wait for it to exit.

        Returns the exit code. With `check` (the default), a SIGTERM stop must end with
        exit code 0 and without a traceback in what the IOC wrote while stopping.
        """
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        log_size = self.stderr_path.stat().st_size if self.stderr_path.exists() else 0
        if kill:
            self.process.kill()
        elif sig is not None:
            self.process.send_signal(sig)
        else:
            self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process.stdout.close()
        code = self.process.returncode
        if check and not kill:
            with open(self.stderr_path, "rb") as log:
                log.seek(log_size)
                said = log.read().decode("utf-8", "replace")
            assert code == 0, f"the IOC stopped with exit code {code}:\n{said[-3000:]}"
            assert "Traceback" not in said, f"traceback while stopping:\n{said[-3000:]}"
        return code

    def log(self) -> str:
        """What the IOC wrote to stderr."""
        return self.stderr_path.read_text(errors="replace")


@pytest.fixture
def start_ioc(tmp_path):
    """Factory: start an IOC (extra args allowed); every one is stopped after the test."""
    started: list[IOC] = []

    def start(
        args: list[str] | None = None, data_dir: Path | None = None, commands: Path | None = None
    ) -> IOC:
        ioc = IOC(data_dir or tmp_path / f"data{len(started)}", args, commands)
        started.append(ioc)
        return ioc.start()

    yield start
    for ioc in started:
        ioc.stop()
    for ioc in started:
        _end_jobs_of(ioc.data_dir)


def _end_jobs_of(data_dir: Path) -> None:
    """Kill what an IOC left running in `data_dir` (jobs and spares outlive their IOC)."""
    import psutil

    inside = str(data_dir) + os.sep
    mine = []
    for proc in psutil.process_iter(["cmdline"]):
        args = proc.info["cmdline"] or ()
        if any(arg == str(data_dir) or inside in arg for arg in args):
            mine.append(proc)
    for proc in mine:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(mine, timeout=5)


@pytest.fixture
def ioc(start_ioc):
    """A running IOC with the demo commands."""
    return start_ioc()


@pytest.fixture
def client(ioc):
    """A pyepics client of `ioc`, with the queue held so jobs stay queued."""
    from scriptserver_ioc.client.client import ScriptServerClient

    c = ScriptServerClient(ioc.prefix, timeout=CA_TIMEOUT)
    c.put("QUEUE:HOLD", 1)
    return c


@pytest.fixture
def runner(ioc):
    """A pyepics client of `ioc` whose queue runs (not held)."""
    from scriptserver_ioc.client.client import ScriptServerClient

    c = ScriptServerClient(ioc.prefix, timeout=CA_TIMEOUT)
    c.put("QUEUE:HOLD", 0)
    return c


@pytest.fixture(scope="session")
def caproto_context():
    """One caproto threading client context for the session (no repeater needed)."""
    from caproto.threading.client import Context

    context = Context()
    yield context
    context.disconnect()


class CaprotoClient:
    """The same operations through caproto, to show any CA client works."""

    connect_timeout = 5.0

    def __init__(self, context, prefix: str) -> None:
        self.context = context
        self.prefix = prefix
        self._pvs: dict = {}

    def pv(self, name: str):
        if name not in self._pvs:
            (self._pvs[name],) = self.context.get_pvs(self.prefix + name, timeout=5)
            self._pvs[name].wait_for_connection(timeout=self.connect_timeout)
        return self._pvs[name]

    def get_text(self, name: str) -> str:
        data = self.pv(name).read(timeout=5).data
        return bytes(data).split(b"\0", 1)[0].decode("utf-8")

    def get_json(self, name: str):
        return json.loads(self.get_text(name))

    def get(self, name: str):
        return self.pv(name).read(timeout=5).data[0]

    def write_text(self, name: str, text: str):
        return self.pv(name).write(text.encode("utf-8") + b"\0", wait=True, timeout=10)

    def write(self, name: str, value):
        return self.pv(name).write([value], wait=True, timeout=10)

    def last_reply(self, name: str) -> dict:
        return next(r for r in self.get_json("REPLY") if r["pv"] == name)


@pytest.fixture
def caproto_client(ioc, caproto_context):
    """A caproto client of `ioc`, with the queue held."""
    c = CaprotoClient(caproto_context, ioc.prefix)
    c.write("QUEUE:HOLD", 1)
    return c


def settle_preflights(client, timeout: float = 60.0) -> None:
    """Wait until every queued job has its pre-flight verdict (they arrive in the background
    and change the QUEUE PV), so a test can compare the queue before and after a write."""
    wait_until(lambda: all(job.get("preflight") for job in client.queue()), timeout)
