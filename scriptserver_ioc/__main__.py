"""`python -m scriptserver_ioc` / `scriptserver-ioc`: start the script server IOC."""

from __future__ import annotations

import importlib
import logging
import sys

from .config import ConfigError, parse_settings

SERVER_PACKAGES = ("pcaspy", "psutil", "docstring_parser")
"""What the server needs beyond the client's packages (setup.cfg's install_requires)."""


def missing_server_packages() -> list[str]:
    """The server's packages that cannot be imported here (a console-only install)."""
    missing = []
    for name in SERVER_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the IOC; a bad option ends with one line and exit code 1.

    A bad access security file ends with exit code 2.
    """
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = parse_settings(argv)
        missing = missing_server_packages()
        if missing:
            raise ConfigError(
                f"the server needs {', '.join(missing)}, not installed here (an install for "
                "the console tool only); install the server with its dependencies: "
                "pip install scriptserver_ioc"
            )
        from .ioc.server import run

        return run(settings)
    except ConfigError as exc:
        print(f"scriptserver-ioc: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)


if __name__ == "__main__":
    sys.exit(main())
