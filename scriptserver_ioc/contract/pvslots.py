"""The per-slot PVs: `QUEUE:<n>:*` (queued jobs in run order), `HISTORY:<n>:*` (finished ones).

One block of rows per slot, n from 1 to `QUEUE_SLOTS`, for screens that show a fixed
number of lines. Rows of the PV table (`contract/pvtable.py` appends them last).
Standard library only.
"""

from __future__ import annotations

from .enums import LAST_STATE_NONE, LAST_STATES, QUEUE_SLOTS, SLOT_ACTIONS
from .pvmodel import PV
from .pvspecs import (
    ACTION,
    COUNTS,
    LAST,
    control_pv,
)

SLOT_ROWS: tuple[PV, ...] = tuple(
    pv
    for n in range(1, QUEUE_SLOTS + 1)
    for pv in (
        PV(f"QUEUE:{n}:ID", "int", f"id of queued job {n} (0 when absent)", **COUNTS),
        PV(f"QUEUE:{n}:NAME", "string", f"name of queued job {n} (first 39 characters)", **COUNTS),
        PV(
            f"QUEUE:{n}:ESTIMATE",
            "float",
            f"estimate of queued job {n}, -1 unknown",
            unit="s",
            prec=1,
            **COUNTS,
        ),
        control_pv(
            f"QUEUE:{n}:ACTION",
            "enum",
            f"UP, DOWN, TOP or REMOVE the job now in queue slot {n} (for screens)",
            enums=SLOT_ACTIONS,
            added=True,
            handler="slot_action",
            **ACTION,
        ),
        PV(
            f"HISTORY:{n}:ID",
            "int",
            f"id of finished job {n}, newest first (0 when none)",
            added=True,
            **LAST,
        ),
        PV(
            f"HISTORY:{n}:NAME",
            "string",
            f"name of finished job {n} (first 39 characters)",
            added=True,
            **LAST,
        ),
        PV(
            f"HISTORY:{n}:STATE",
            "enum",
            f"how finished job {n} ended (NONE when absent)",
            enums=LAST_STATES,
            added=True,
            extra={"value": LAST_STATE_NONE},
            **LAST,
        ),
        PV(
            f"HISTORY:{n}:ERROR",
            "string",
            f"error of finished job {n}: type, line, message (first 39 characters)",
            added=True,
            **LAST,
        ),
    )
)
"""Every slot's rows, slot 1 first."""
