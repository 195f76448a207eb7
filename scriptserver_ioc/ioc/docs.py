"""Generate the PV reference (docs/pv-reference.md) from the PV table.

Run `python -m scriptserver_ioc.ioc.docs` to rewrite it; a test fails when it is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .pvtable import ALL_PVS, PV

REFERENCE = Path(__file__).resolve().parent.parent.parent / "docs" / "pv-reference.md"


def _type(pv: PV) -> str:
    text = {"int": "long", "float": "double", "char": f"char[{pv.count}]"}.get(pv.type, pv.type)
    if pv.enums:
        text += " (" + ", ".join(f"{i} {e}" for i, e in enumerate(pv.enums)) + ")"
    if pv.unit:
        text += f", {pv.unit}"
    return text


def render() -> str:
    """The PV reference as Markdown."""
    lines = [
        "# PV reference (generated from `scriptserver_ioc/ioc/pvtable.py`; do not edit)",
        "",
        "Names are relative to the prefix (default `$(MYPVPREFIX)CS:SCRIPTSERVER:`).",
        "Access group `READONLY` for status PVs, `CONTROL` for control PVs (see `db/*.acf`).",
        "PVs marked *added* extend the contract in `pv-interface.md`; all others are in it.",
        "",
    ]
    for title, control in (("Status PVs", False), ("Control PVs", True)):
        lines += [f"## {title}", "", "| PV | type | group | description |", "|---|---|---|---|"]
        for pv in sorted((p for p in ALL_PVS if p.control == control), key=lambda p: p.name):
            notes = []
            if pv.json:
                notes.append("JSON")
            if pv.asyn:
                notes.append("put-callback completes when done")
            if pv.added:
                notes.append("*added*")
            extra = f" ({'; '.join(notes)})" if notes else ""
            group = "CONTROL" if pv.control else "READONLY"
            lines.append(f"| `{pv.name}` | {_type(pv)} | {group} | {pv.description}{extra} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    """Rewrite the reference (or, with --check, exit 1 if it is stale)."""
    text = render()
    if "--check" in sys.argv:
        return 0 if REFERENCE.read_text() == text else 1
    REFERENCE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
