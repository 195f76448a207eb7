"""`python -m scriptserver_ioc` / `scriptserver-ioc`: start the script server IOC."""

from __future__ import annotations

import logging
import sys

from .config import ConfigError, parse_settings


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the IOC; a bad option ends with one line and exit code 1.

    A bad access security file ends with exit code 2.
    """
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = parse_settings(argv)
        from .ioc.server import run

        return run(settings)
    except ConfigError as exc:
        print(f"scriptserver-ioc: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)


if __name__ == "__main__":
    sys.exit(main())
