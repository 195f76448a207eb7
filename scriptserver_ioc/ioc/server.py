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

from ..config import ConfigError, Settings, prepare_data_dir
from . import pvtable

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
    if current < pvtable.MAX_ARRAY_BYTES:
        os.environ["EPICS_CA_MAX_ARRAY_BYTES"] = str(pvtable.MAX_ARRAY_BYTES)
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


def build(settings: Settings) -> dict[str, Any]:
    """Open the store and build catalogue, validator, core and runner (no Channel Access)."""
    from ..catalogue import Catalogue, CatalogueWatcher
    from ..core.server import ScriptServer
    from ..runner import JobRunner, RunnerSettings
    from ..store.sqlite import Store, StoreError
    from ..validate.companions import CompanionRunner
    from ..validate.validator import Validator

    prepare_data_dir(settings)
    try:
        store = Store(settings.database)
    except StoreError as exc:
        raise ConfigError(str(exc)) from None
    catalogue = Catalogue(settings.command_dirs)
    companions = CompanionRunner(settings.job_python, [str(d) for d in settings.command_dirs])
    prelude = settings.prelude.read_text(encoding="utf-8") if settings.prelude else None
    validator = Validator(
        catalogue,
        companions,
        history=store,
        prelude_source=prelude,
        no_scripts=not settings.allow_scripts,
        scripts_dir=settings.scripts_dir,
    )
    core = ScriptServer(
        store,
        catalogue=catalogue,
        validator=validator,
        scripts_dir=settings.scripts_dir,
        logs_dir=settings.logs_dir,
        allow_scripts=settings.allow_scripts,
    )
    runner = JobRunner(
        RunnerSettings(
            job_python=settings.job_python,
            prelude=settings.prelude,
            command_dirs=settings.command_dirs,
            data_dir=settings.data_dir,
            warm_spare=settings.warm_spare,
        ),
        core,
    )

    def commands_changed() -> None:
        companions.preload(catalogue.commands(), revision=catalogue.revision)
        core.changed("commands", "settings")

    watcher = CatalogueWatcher(catalogue, commands_changed)
    return {
        "store": store,
        "catalogue": catalogue,
        "core": core,
        "runner": runner,
        "watcher": watcher,
        "validator": validator,
    }


def run(settings: Settings) -> int:
    """Run the IOC until SIGINT/SIGTERM; returns the exit code."""
    port = configure_epics_environment(settings)
    check_port_free(port)
    import pcaspy

    from .driver import ScriptServerDriver

    parts = build(settings)
    core, runner = parts["core"], parts["runner"]
    server = pcaspy.SimpleServer()
    acf = settings.acf or DEFAULT_ACF
    if not acf.is_file():
        acf = settings.data_dir / "runtime" / "scriptserver.acf"
        acf.write_text(BUILTIN_ACF)
    server.initAccessSecurityFile(str(acf), P=settings.prefix)
    server.createPV(settings.prefix, pvtable.pvdb())
    kicker = Kicker(port)
    driver = ScriptServerDriver(core, kicker)
    driver.publisher.start()
    core.attach_runner(runner)
    parts["watcher"].start()

    stopping = threading.Event()

    def request_stop(_signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, request_stop)
    print(
        f"scriptserver-ioc ready: prefix {settings.prefix} port {port}; try "
        f"caget {settings.prefix}STATE (with EPICS_CA_ADDR_LIST=127.0.0.1:{port} "
        "EPICS_CA_AUTO_ADDR_LIST=NO)",
        flush=True,
    )
    log.info("serving %d PVs under %s on port %d", len(pvtable.ALL_PVS), settings.prefix, port)
    try:
        while not stopping.is_set():
            server.process(LOOP_TIMEOUT)
    finally:
        log.info("shutting down; a running job keeps running and is adopted at the next start")
        parts["watcher"].stop()
        driver.publisher.stop()
        runner.close()
        parts["companions"].close()
        parts["store"].close()
    return 0
