"""`scriptserver plots ID [--open]`: the figures a job saved (docs/bluesky.md)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .client import ScriptServerClient
from .views import print_json


def show_plots(client: ScriptServerClient, args: argparse.Namespace) -> int:
    """List a job's figures (PNG files on the server's machine); ``--open`` opens them."""
    paths = client.plots(args.id)
    if args.json:
        print_json({"id": args.id, "plots": paths})
    elif not paths:
        print(f"job {args.id} saved no figures")
    else:
        print("\n".join(paths))
    if not args.open or not paths:
        return 0
    missing = [p for p in paths if not Path(p).is_file()]
    for path in missing:
        print(f"scriptserver: {path} is not on this machine (it is on the server's)")
    failed = [p for p in paths if p not in missing and not open_file(p)]
    return 1 if missing or failed else 0


def open_file(path: str) -> bool:
    """Open ``path`` with the desktop's viewer (without waiting for it); False if none."""
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    try:
        if sys.platform == "win32":
            os.startfile(path)  # noqa: S606 (the user's own file, by its association)
        else:
            subprocess.Popen(  # noqa: S603 (a fixed viewer and a file path)
                [opener, path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
    except OSError as exc:
        viewer = "a viewer for PNG files" if sys.platform == "win32" else f"`{opener}`"
        print(f"scriptserver: cannot open {path}: needs {viewer} ({exc.strerror or exc})")
        return False
    return True
