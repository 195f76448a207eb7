"""Generate the PV reference (docs/pv-reference.md) from the PV table.

Run `python -m scriptserver_ioc.ioc.docs` to rewrite it; a test fails when it is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..contract.pvmodel import PV
from ..contract.pvtable import ALL_PVS

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
        "# PV reference (generated from `scriptserver_ioc/contract/pvtable.py`; do not edit)",
        "",
        "Names are relative to the prefix (default `$(MYPVPREFIX)CS:SCRIPTSERVER:`).",
        "Access group `READONLY` for status PVs, `CONTROL` for control PVs (see `db/*.acf`).",
        "PVs marked *added* extend the contract in `pv-interface.md`; all others are in it.",
        "A status PV is rebuilt when the core reports one of its topics (`contract/topics.py`);",
        "a control write is decoded into a call of the core (`ioc.writes.CONTROL_HANDLERS`).",
        "",
    ]
    for title, control, column in (
        ("Status PVs", False, "refreshed on (core topics)"),
        ("Control PVs", True, "handler (core)"),
    ):
        lines += [
            f"## {title}",
            "",
            f"| PV | type | group | description | {column} |",
            "|---|---|---|---|---|",
        ]
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
            wiring = f"`{pv.handler}`" if control else ", ".join(pv.topics)
            if control and pv.topics:
                wiring += f"; read back on {', '.join(pv.topics)}"
            lines.append(
                f"| `{pv.name}` | {_type(pv)} | {group} | {pv.description}{extra} | {wiring} |"
            )
        lines.append("")
    return "\n".join(lines + CA_CONVERSIONS)


CA_CONVERSIONS = [
    "## What the CA library does to a write before the server sees it",
    "",
    "Measured with pcaspy 0.8.1 (pcas, EPICS 3.14.12.8) and caproto 1.3 clients. The CA",
    "server library converts a scalar write to the PV's own type *before* the server's",
    "`write()` runs, and the value handed over carries only the converted number (its type",
    "is the PV's, not the client's). So the server cannot tell these apart from a plain write:",
    "",
    "| PV type | written | the server sees |",
    "|---|---|---|",
    '| enum | string naming a state, or a number in text (`"1-"`, `"2 "`) | the state index '
    "(1, 2) |",
    "| enum | long 65538 / -1 | 2 / 65535 (modulo 65536; 65535 is refused) |",
    "| enum | double 1.7 / 1e300 / NaN | 1 / 0 / 0 |",
    '| long | text starting with a number (`"1-"`, `" 1"`, `"0x10"`) | 1, 1, 16 |',
    "| long | double 2.9999 / 1e300 / -1e10 / NaN | 2 / -2147483648 (refused, likewise the rest) |",
    "",
    "Every value that arrives outside a PV's meaningful range is refused with a `REPLY`;",
    "`STOP`, `QUEUE:CLEAR`, `RESUME` and `COMMANDS:RELOAD` take exactly 1, `ABORT` and",
    "`PAUSE` 1 or 2. A client that must not act on junk should write the enum by index as",
    "DBR_ENUM/DBR_SHORT or by name, and longs as DBR_LONG (pyepics `caput` of an int does).",
    "",
    "Writes the CA library refuses itself never reach the server, so they get **no `REPLY`**",
    "and no `LAST_ERROR` (the client sees the status):",
    "",
    "- a write to a status PV, or to a control PV the `.acf` denies: `ECA_NOWTACCESS`;",
    '- text that is not a number or state name to an enum or long PV (`"MAYBE"`, bytes '
    "that are not text): `ECA_PUTFAIL`;",
    "- a DBR_STRING write to a char PV (write the text as a char array): `ECA_PUTFAIL`;",
    "- more elements than the PV holds: `ECA_BADCOUNT` (pyepics instead cuts the value to",
    "  the PV's length without a NUL; the server then refuses it naming MAX_WRITE_BYTES);",
    "- a value larger than the server's `EPICS_CA_MAX_ARRAY_BYTES`: dropped by the server",
    "  library with a line on its stderr, although the client's put may report success.",
    "",
]


def main() -> int:
    """Rewrite the reference (or, with --check, exit 1 if it is stale)."""
    text = render()
    if "--check" in sys.argv:
        return 0 if REFERENCE.read_text() == text else 1
    REFERENCE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
