"""A NICOS daemon protocol front end, so today's IBEX GUI can drive this script server.

Optional: needs pyzmq (`pip install scriptserver_ioc[nicos]`); the IOC runs without it.
See docs/nicos.md for what it serves, the GUI's rules it follows and how it differs
from a NICOS daemon.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import ConfigError
from .credentials import FILE_NAME


def credentials_path(data_dir: Path, option: Path | None) -> Path:
    """The credentials file: the option's, else `<data-dir>/nicos-credentials.txt`."""
    return option if option is not None else data_dir / FILE_NAME


def prepare_bridge(settings: Any) -> Callable[[Any], Any]:
    """Check pyzmq and the credentials now; returns `open(core)`, which binds the socket.

    `open(core)` returns the bridge, not yet serving: call `.start()` and later `.stop()`.

    Args:
        settings: the IOC's `config.Settings` (nicos_port, nicos_bind, nicos_credentials).

    Raises:
        ConfigError: pyzmq is missing, the credentials cannot be used, or (from `open`)
            the port is taken; the message is one line for the user.
    """
    try:
        import zmq  # noqa: F401
    except ImportError:
        raise ConfigError("--nicos-port needs pyzmq: pip install scriptserver_ioc[nicos]") from None
    from .bridge import BridgeError, NicosBridge
    from .credentials import Credentials, CredentialsError

    path = credentials_path(settings.data_dir, settings.nicos_credentials)
    try:
        accepted = Credentials.load(path)
    except CredentialsError as exc:
        raise ConfigError(
            f"{exc} (the NICOS bridge needs the IBEX GUI's login there; see "
            "python -m scriptserver_ioc.nicos.credentials)"
        ) from None

    def open_bridge(core: Any) -> Any:
        try:
            return NicosBridge(core, accepted, settings.nicos_bind, settings.nicos_port)
        except BridgeError as exc:
            raise ConfigError(str(exc)) from None

    return open_bridge
