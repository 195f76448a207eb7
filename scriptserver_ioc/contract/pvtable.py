"""THE PV table: every PV of the script server, once.

The pcaspy database, the access-security groups, the generated PV reference
(`docs/pv-reference.md`), the client's names and enums and the screens all come from
`PVS`. Names are relative to the prefix. `:ZHEX` twins of JSON PVs are generated from the
`json` flag. Beside each PV: for a control PV, its handler (a key of
`ioc.writes.CONTROL_HANDLERS`: its decoder and core call), whether that handler defers
(`asyn`) and the idle value an action PV reads back as; for a published PV, its builder
(`ioc/builders.py`), the topics that rebuild it (`contract/topics.py`) and its rebuild
interval. The rows live in this module (the published PVs), `contract/pvcontrols.py` (the
control PVs) and `contract/pvslots.py` (the per-slot PVs), made with `contract/pvspecs.py`;
this module assembles them in that order. Standard library only: `contract/pvmodel.py`
checks every row when this module is imported.
"""

from __future__ import annotations

from typing import Any

from .enums import (
    LAST_STATE_NONE,
    LAST_STATES,
    RUN_STATES,
)
from .pvcontrols import CONTROL_ROWS
from .pvmodel import MAX_CHAR_COUNT, PV, check_rows, zhex_twin
from .pvslots import SLOT_ROWS
from .pvspecs import (
    CMD_COUNTS,
    CMD_JSON,
    COUNTS,
    CUR_JSON,
    HEARTBEAT,
    HIST_JSON,
    LAST,
    LAST_ERROR,
    LOG,
    MAJOR,
    MB,
    MINOR,
    OUTPUT,
    QUEUE_JSON,
    QUEUE_SUMMARY,
    REPLIES,
    SCALARS,
    SCRIPT,
    STATE_,
    STATUS,
    VERDICT,
    json_pv,
)

PVS: tuple[PV, ...] = (
    (
        # -- state -------------------------------------------------------------------------
        PV("STATE", "enum", "what the runner is doing", enums=RUN_STATES, **STATE_),
        PV(
            "STATE:CODE",
            "int",
            "NICOS status code: -2 idle after failure, -1 idle, 0 running, 1 paused, 2 stopping",
            **STATE_,
        ),
        json_pv(
            "STATUS",
            "server summary (state, hold, on_error, counts, eta, revision, version); added: "
            "`groups`, per `tags.group` batch until its last job ends: count, queued, estimate "
            "and unknown (of its queued jobs), done, failed, skipped, running (place of its "
            "running job), running_id, remaining (s) and finish (time of day)",
            65_536,
            **STATUS,
        ),
        # -- queue -------------------------------------------------------------------------
        json_pv("QUEUE", "every queued job record in run order", MAX_CHAR_COUNT, **QUEUE_JSON),
        json_pv(
            "QUEUE:SUMMARY",
            'each queued job in run order, compactly: [{"id", "name", "kind", "estimate"}] '
            "(a tenth of `QUEUE`'s size; the full records are in `QUEUE`)",
            4 * MB,
            added=True,
            **QUEUE_SUMMARY,
        ),
        PV("QUEUE:COUNT", "int", "number of queued jobs", **COUNTS),
        PV(
            "QUEUE:ETA",
            "float",
            "seconds until the current and all queued jobs have finished",
            unit="s",
            prec=1,
            **COUNTS,
        ),
        PV(
            "QUEUE:FINISH",
            "string",
            "that moment as a local time of day ('07:40:12 +1d' on a later day), '-' when idle",
            **COUNTS,
        ),
        # QUEUE:<n>:* slots are appended below
        # -- current job -------------------------------------------------------------------
        json_pv(
            "CURRENT",
            "job record of the current job, or null; `progress` is the job's monotonic "
            "progress; added: `group` ({name, position, count, text: '3 of 10'}) for a job "
            "with `tags.group`",
            2 * MB,
            **CUR_JSON,
        ),
        PV("CURRENT:ID", "int", "id of the current job, 0 when none", **SCALARS),
        PV("CURRENT:NAME", "string", "name of the current job (first 39 characters)", **SCALARS),
        PV(
            "CURRENT:NAME:TEXT",
            "char",
            "name of the current job in full",
            count=1024,
            added=True,
            **SCALARS,
        ),
        PV(
            "CURRENT:SCRIPT",
            "char",
            "source being executed (generated for command jobs)",
            count=2 * MB,
            **SCRIPT,
        ),
        PV(
            "CURRENT:LINE",
            "int",
            "line of CURRENT:SCRIPT being executed, 0 when unknown",
            **SCALARS,
        ),
        PV(
            "CURRENT:PROGRESS",
            "float",
            "percent done, -1 when unknown",
            unit="%",
            prec=1,
            **SCALARS,
        ),
        PV("CURRENT:MESSAGE", "string", "last progress message (first 39 characters)", **SCALARS),
        PV(
            "CURRENT:MESSAGE:TEXT",
            "char",
            "last progress message in full",
            count=4096,
            added=True,
            **SCALARS,
        ),
        PV(
            "CURRENT:ELAPSED",
            "float",
            "wall time since the job started",
            unit="s",
            prec=1,
            **SCALARS,
        ),
        PV(
            "CURRENT:ESTIMATE",
            "float",
            "expected total duration, -1 unknown",
            unit="s",
            prec=1,
            **SCALARS,
        ),
        PV(
            "CURRENT:REMAINING",
            "float",
            "expected time left, -1 unknown",
            unit="s",
            prec=1,
            **SCALARS,
        ),
        PV(
            "CURRENT:OUTPUT",
            "char",
            "last 16 kB of the job's stdout and stderr",
            count=65_536,
            **OUTPUT,
        ),
        # -- history -----------------------------------------------------------------------
        json_pv("HISTORY", "the last 100 finished jobs, newest first", MAX_CHAR_COUNT, **HIST_JSON),
        PV("LAST:ID", "int", "id of the most recently finished job, 0 when none", **LAST),
        PV(
            "LAST:STATE",
            "enum",
            "how it ended; added: `NONE` (after the contract's states) while no job has finished",
            enums=LAST_STATES,
            states=(0, MAJOR, MINOR, 0, MAJOR, 0),
            extra={"value": LAST_STATE_NONE},
            **LAST,
        ),
        PV(
            "LAST:ERROR", "string", "its error message (first 39 characters), empty if none", **LAST
        ),
        PV("LAST:ERROR:TEXT", "char", "its error message in full", count=4096, added=True, **LAST),
        # -- commands ----------------------------------------------------------------------
        json_pv("COMMANDS", "the command catalogue", 8 * MB, **CMD_JSON),
        PV("COMMANDS:COUNT", "int", "number of commands", **CMD_COUNTS),
        PV("COMMANDS:REVISION", "int", "+1 every time the catalogue changes", **CMD_COUNTS),
        json_pv(
            "COMMANDS:ERRORS",
            "command sources that could not be read: [{file, line, message}]",
            262_144,
            **CMD_JSON,
        ),
        # -- replies and server ------------------------------------------------------------
        json_pv("REPLY", "the last 32 replies to control writes, newest first", 262_144, **REPLIES),
        PV(
            "LAST_ERROR",
            "string",
            "message of the most recent rejected write (first 39 chars)",
            **LAST_ERROR,
        ),
        PV(
            "LAST_ERROR:TEXT",
            "char",
            "message of the most recent rejected write in full",
            count=4096,
            added=True,
            **LAST_ERROR,
        ),
        json_pv("VALIDATE:RESULT", "result of the last VALIDATE write", 4 * MB, **VERDICT),
        PV("LOG", "char", "last 16 kB of the server's event log", count=65_536, **LOG),
        PV("SERVER:VERSION", "string", "server version", **HEARTBEAT),
        PV(
            "SERVER:UPTIME",
            "float",
            "seconds since the server started",
            unit="s",
            prec=0,
            **HEARTBEAT,
        ),
        PV("SERVER:HEARTBEAT", "int", "+1 every second", **HEARTBEAT),
    )
    + CONTROL_ROWS
    + SLOT_ROWS
)


ALL_PVS: tuple[PV, ...] = PVS + tuple(zhex_twin(pv) for pv in PVS if pv.json)
"""Every PV served, twins included."""

check_rows(ALL_PVS)

BY_NAME: dict[str, PV] = {pv.name: pv for pv in ALL_PVS}
CONTROL_PVS = tuple(pv.name for pv in ALL_PVS if pv.control)

CONTROL_ROUTES: dict[str, str] = {pv.name: pv.handler for pv in ALL_PVS if pv.control}
"""Control PV -> the key of its handler (give it to `core.server.ScriptServer`)."""

ENUMS: dict[str, tuple[str, ...]] = {pv.name: pv.enums for pv in ALL_PVS if pv.enums}
"""Every enum PV and its strings, in index order."""


def pvdb() -> dict[str, dict[str, Any]]:
    """The pcaspy database of every PV."""
    return {pv.name: pv.pcaspy_entry() for pv in ALL_PVS}


def char_pv(name: str) -> bool:
    """True if `name` is a char waveform (text or JSON, read and written as text)."""
    pv = BY_NAME.get(name)
    return pv is not None and pv.type == "char"


def slot_of(name: str) -> int:
    """The slot number n of a `QUEUE:<n>:*` or `HISTORY:<n>:*` PV name."""
    return int(name.split(":")[1])
