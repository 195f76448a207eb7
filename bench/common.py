"""Shared set-up of the benchmarks that talk to a real IOC over Channel Access.

Importing this module chooses free loopback ports and sets the EPICS environment before
pyepics starts, as the system tests do.
"""

from __future__ import annotations

import atexit
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    """A TCP port free on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORTS = [free_port() for _ in range(8)]
os.environ.update(
    EPICS_CA_AUTO_ADDR_LIST="NO",
    EPICS_CA_ADDR_LIST=" ".join(f"127.0.0.1:{p}" for p in PORTS),
    EPICS_CAS_INTF_ADDR_LIST="127.0.0.1",
    EPICS_CA_MAX_ARRAY_BYTES="40000000",
)
_next = iter(range(len(PORTS)))


def start_ioc(
    *args: str, commands: Path | None = None, root: Path = ROOT, python: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, str]:
    """Start an IOC on the next free port; returns the process and its prefix.

    `root`: the source tree to run (another revision's, see `checkout`); `python`: what
    runs instead of `python -m scriptserver_ioc` (e.g. `-c` code that sets up, then runs it).
    """
    index = next(_next)
    prefix = f"BENCH{index}:"
    data = Path(tempfile.mkdtemp(prefix="bench-"))
    ioc = subprocess.Popen(
        [
            sys.executable,
            *(python or ("-m", "scriptserver_ioc")),
            "--port",
            str(PORTS[index]),
            "--prefix",
            prefix,
            "--data-dir",
            str(data),
            "--commands",
            str(commands or root / "commands"),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=root,
        env=_ioc_environment(PORTS[index]),
    )
    atexit.register(_stop, ioc)  # also when a benchmark fails half-way
    if "ready" not in ioc.stdout.readline():
        raise RuntimeError("the IOC did not start")
    return ioc, prefix


def _ioc_environment(port: int) -> dict[str, str]:
    """The IOC's environment: its own port, and the array bytes it chooses for itself.

    (`EPICS_CA_MAX_ARRAY_BYTES` above is for this process's client; the server keeps
    buffers of that size, so a larger one inherited would inflate its memory.)
    """
    env = dict(os.environ, EPICS_CA_ADDR_LIST=f"127.0.0.1:{port}")
    env.pop("EPICS_CA_MAX_ARRAY_BYTES", None)
    return env


def checkout(revision: str) -> Path:
    """The source tree of `revision` in a temporary directory (`git archive`).

    Run with `start_ioc(root=...)`: Python puts the working directory first on the path,
    so that tree's `scriptserver_ioc` is the one imported (checked here).
    """
    tree = Path(tempfile.mkdtemp(prefix=f"bench-{revision}-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    where = subprocess.run(
        [sys.executable, "-c", "import scriptserver_ioc; print(scriptserver_ioc.__file__)"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not where.startswith(str(tree)):
        raise RuntimeError(f"{revision}: imported {where}, not the checked-out tree")
    return tree


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples) * 1000, cuts[98] * 1000


def _stop(ioc: subprocess.Popen) -> None:
    if ioc.poll() is None:
        ioc.terminate()
        try:
            ioc.wait(10)
        except subprocess.TimeoutExpired:
            ioc.kill()


def ms(samples: list[float]) -> float:
    """Median in milliseconds."""
    return statistics.median(samples) * 1000


def timed(fn, repeat: int) -> list[float]:
    """Durations of `repeat` calls of `fn`."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def python_startup(repeat: int = 10) -> list[float]:
    """Wall time of `python -c pass` (the cost of a new interpreter)."""
    return timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), repeat)
