"""Start-up, the Channel Access server loop and shutdown."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from ..config import ConfigError, Settings
from ..contract import pvtable
from ..contract.pvmodel import MAX_ARRAY_BYTES
from .acf import check_acf

log = logging.getLogger(__name__)

DEFAULT_ACF = Path(__file__).resolve().parent.parent.parent / "db" / "scriptserver.acf"
BUILTIN_ACF = """\
ASG(DEFAULT) { RULE(1, READ) }
ASG(READONLY) { RULE(1, READ) }
ASG(CONTROL) { RULE(1, READ) RULE(1, WRITE) }
"""
LOOP_TIMEOUT = 0.05
"""Seconds `process()` may block; updates from other threads also kick it awake."""


def configure_epics_environment(settings: Settings) -> int:
    """Set the EPICS variables the server needs before pcaspy starts; returns the port."""
    current = int(os.environ.get("EPICS_CA_MAX_ARRAY_BYTES", "0") or 0)
    if current < MAX_ARRAY_BYTES:
        os.environ["EPICS_CA_MAX_ARRAY_BYTES"] = str(MAX_ARRAY_BYTES)
    if settings.port is not None:
        os.environ["EPICS_CAS_SERVER_PORT"] = str(settings.port)
    for name in ("EPICS_CAS_SERVER_PORT", "EPICS_CA_SERVER_PORT"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 5064


def interface_address() -> str:
    """The first address the server binds to (EPICS_CAS_INTF_ADDR_LIST), else any."""
    listed = os.environ.get("EPICS_CAS_INTF_ADDR_LIST", "").split()
    return listed[0] if listed else "0.0.0.0"


def check_port_free(port: int) -> None:
    """Fail with a clear message if another server listens on the TCP port."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if sys.platform == "win32":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((interface_address(), port))
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
            raise ConfigError(f"port {port} is in use by another Channel Access server") from None
        raise ConfigError(f"cannot use port {port}: {exc.strerror}") from None
    finally:
        probe.close()


class Kicker:
    """Wakes `process()` so updates posted from other threads go out within a millisecond.

    Sends an empty CA header to the server's own UDP port (measured in pcaspy-facts.md).
    """

    def __init__(self, port: int) -> None:
        address = interface_address()
        self.target = ("127.0.0.1" if address == "0.0.0.0" else address, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def __call__(self) -> None:
        """Send the wake-up datagram."""
        try:
            self.sock.sendto(bytes(16), self.target)
        except OSError:
            pass

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def run(settings: Settings) -> int:
    """Run the IOC until SIGINT/SIGTERM; returns the exit code (0 after a clean stop).

    Raises:
        ConfigError: the port or the data directory is in use, or a part cannot start.
    """
    if settings.acf is not None:
        check_acf(settings.acf, P=settings.prefix)
    port = configure_epics_environment(settings)
    check_port_free(port)
    import pcaspy

    from ..app import Application
    from .driver import ScriptServerDriver

    stopping = threading.Event()

    def request_stop(_signum: int, _frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in _stop_signals()}
    app = Application.open(settings, port)
    kicker: Kicker | None = None
    driver: ScriptServerDriver | None = None
    try:
        server = pcaspy.SimpleServer()
        acf = settings.acf or DEFAULT_ACF
        if not acf.is_file():
            acf = settings.data_dir / "runtime" / "scriptserver.acf"
            acf.write_text(BUILTIN_ACF)
        server.initAccessSecurityFile(str(acf), P=settings.prefix)
        server.createPV(settings.prefix, pvtable.pvdb())
        kicker = Kicker(port)
        driver = ScriptServerDriver(app.core, kicker)
        driver.publisher.start()
        app.start()
        print(ready_text(settings, port), flush=True)
        log.info("serving %d PVs under %s on port %d", len(pvtable.ALL_PVS), settings.prefix, port)
        while not stopping.is_set():
            server.process(LOOP_TIMEOUT)
            driver.publisher.drain()  # what other threads published (pcaspy: this thread only)
    finally:
        log.info("shutting down; a running job keeps running and is adopted at the next start")
        if driver is not None:
            driver.close()
        app.close()
        if kicker is not None:
            kicker.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped")
    return 0


def ready_text(settings: Settings, port: int) -> str:
    """The ready line, and the client settings to copy into another shell."""
    client_env = {
        "EPICS_CA_AUTO_ADDR_LIST": "NO",
        "EPICS_CA_ADDR_LIST": f"127.0.0.1:{port}",
        "SCRIPTSERVER_PREFIX": settings.prefix,
    }
    if os.name == "nt":
        settings_line = " & ".join(f"set {k}={v}" for k, v in client_env.items())
    else:
        settings_line = "export " + " ".join(f"{k}={v}" for k, v in client_env.items())
    return (
        f"scriptserver-ioc ready: prefix {settings.prefix} port {port}; data directory "
        f"{settings.data_dir} (jobs run in {settings.work_dir})\n"
        "  clients (scriptserver, caget, scripts) in another shell need:\n"
        f"  {settings_line}"
    )


def _stop_signals() -> list[int]:
    """SIGINT, and SIGTERM where the platform has it (also SIGBREAK on Windows)."""
    names = ("SIGINT", "SIGTERM", "SIGBREAK")
    return [getattr(signal, name) for name in names if hasattr(signal, name)]
