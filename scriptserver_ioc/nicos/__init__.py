"""A NICOS daemon protocol front end, so today's IBEX GUI can drive this script server.

Optional: needs pyzmq (`pip install scriptserver_ioc[nicos]`); the IOC runs without it.
See README "Using the IBEX GUI (NICOS protocol)" for what it serves and how it differs
from a NICOS daemon.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .credentials import FILE_NAME


def credentials_path(data_dir: Path, option: Path | None) -> Path:
    """The credentials file: the option's, else `<data-dir>/nicos-credentials.txt`."""
    return option if option is not None else data_dir / FILE_NAME


def open_bridge(core: Any, data_dir: Path, bind: str, port: int, credentials: Path | None) -> Any:
    """Bind the bridge's socket (not yet serving); call `.start()` and later `.stop()`.

    Raises:
        RuntimeError: pyzmq is missing, the credentials cannot be used, or the port is taken
            (one line for the user).
    """
    try:
        import zmq  # noqa: F401
    except ImportError:
        raise RuntimeError(
            "--nicos-port needs pyzmq: pip install scriptserver_ioc[nicos]"
        ) from None
    from .bridge import BridgeError, NicosBridge
    from .credentials import Credentials, CredentialsError

    path = credentials_path(data_dir, credentials)
    try:
        accepted = Credentials.load(path)
    except CredentialsError as exc:
        raise RuntimeError(
            f"{exc} (the NICOS bridge needs the IBEX GUI's login there; see "
            "python -m scriptserver_ioc.nicos.credentials)"
        ) from None
    try:
        return NicosBridge(core, accepted, bind, port)
    except BridgeError as exc:
        raise RuntimeError(str(exc)) from None
