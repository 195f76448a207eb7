"""THE PV table: every PV of the script server, once.

The pcaspy database, the access-security groups, the generated PV reference
(`docs/pv-reference.md`), the client's names and enums and the screens all come from
`PVS`. Names are relative to the prefix. `:ZHEX` twins of JSON PVs are generated from the
`json` flag. Beside each PV: for a control PV, its handler (a key of
`ioc.writes.CONTROL_HANDLERS`: its decoder and core call), whether that handler defers
(`asyn`) and the idle value an action PV reads back as; for a published PV, its builder
(`ioc/builders.py`), the topics that rebuild it (`contract/topics.py`) and its rebuild
interval. Standard library only: `contract/pvmodel.py` checks every row when this module
is imported.
"""

from __future__ import annotations

from typing import Any

from .enums import (
    ABORT_MODES,
    HOLD_MODES,
    LAST_STATE_NONE,
    LAST_STATES,
    ON_ERROR_MODES,
    ON_INVALID_MODES,
    PAUSE_MODES,
    QUEUE_SLOTS,
    RUN_STATES,
    SLOT_ACTIONS,
)
from .pvmodel import MAX_CHAR_COUNT, MAX_WRITE_COUNT, PV, check_rows, zhex_twin

MB = 1_000_000
_MINOR, _MAJOR = 1, 2


def _published(builder: str, *topics: str, interval: float | None = None) -> dict[str, Any]:
    """A published PV's builder, the topics that rebuild it and its rebuild interval."""
    return {"builder": builder, "topics": topics, "interval": interval}


# builder, topics and rebuild interval (None: posted by the writer before its write
# returns) of the published PVs; the builders are in `ioc/builders.py`, the topics in
# `contract/topics.py`
STATE_ = _published("state", "state", "settings")
STATUS = _published(
    "status",
    *("queue", "current", "state", "settings", "history", "commands", "status", "tick"),
    interval=0.1,
)
COUNTS = _published("counts", "queue", "current", "progress", "tick")
QUEUE_JSON = _published("queue_json", "queue", interval=0.05)
QUEUE_SUMMARY = _published("queue_summary", "queue", interval=0.05)
CUR_JSON = _published("current_json", "current", "line", "progress", interval=0.1)
SCALARS = _published("current_scalars", "current", "line", "progress", "state", "tick")
SCRIPT = _published("script", "script", interval=0.0)
OUTPUT = _published("output", "output", interval=0.2)
HIST_JSON = _published("history_json", "history", interval=0.05)
LAST = _published("last", "history", "last")
CMD_JSON = _published("commands_json", "commands", interval=0.0)
CMD_COUNTS = _published("commands_counts", "commands")
REPLIES = _published("replies", "replies")
LAST_ERROR = _published("last_error", "last_error")
VERDICT = _published("validate", "validate")
LOG = _published("log", "log", interval=0.1)
HEARTBEAT = _published("heartbeat", "tick")
JOB_OUTPUT = _published("job_output", "job_output")
PLOTS = _published("plots", "plots")
PLOTS_JSON = _published("plots_json", "plots")
ACTION = {"idle": 0}
"""An action PV: it reads back as 0 once a write was processed."""


def _json(name: str, description: str, count: int, added: bool = False, **kw: Any) -> PV:
    return PV(name, "char", description, count=count, json=True, added=added, **kw)


def _control(name: str, type_: str, description: str, **kw: Any) -> PV:
    if type_ == "char":
        kw.setdefault("count", MAX_WRITE_COUNT)
    return PV(name, type_, description, control=True, **kw)


PVS: tuple[PV, ...] = (
    # -- state -------------------------------------------------------------------------
    PV("STATE", "enum", "what the runner is doing", enums=RUN_STATES, **STATE_),
    PV(
        "STATE:CODE",
        "int",
        "NICOS status code: -2 idle after failure, -1 idle, 0 running, 1 paused, 2 stopping",
        **STATE_,
    ),
    _json(
        "STATUS",
        "server summary (state, hold, on_error, counts, eta, revision, version); added: "
        "`groups`, per `tags.group` batch until its last job ends: count, queued, estimate "
        "and unknown (of its queued jobs), done, failed, skipped, running (place of its "
        "running job), running_id, remaining (s) and finish (time of day)",
        65_536,
        **STATUS,
    ),
    # -- queue -------------------------------------------------------------------------
    _json("QUEUE", "every queued job record in run order", MAX_CHAR_COUNT, **QUEUE_JSON),
    _json(
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
    _json(
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
    PV("CURRENT:LINE", "int", "line of CURRENT:SCRIPT being executed, 0 when unknown", **SCALARS),
    PV("CURRENT:PROGRESS", "float", "percent done, -1 when unknown", unit="%", prec=1, **SCALARS),
    PV("CURRENT:MESSAGE", "string", "last progress message (first 39 characters)", **SCALARS),
    PV(
        "CURRENT:MESSAGE:TEXT",
        "char",
        "last progress message in full",
        count=4096,
        added=True,
        **SCALARS,
    ),
    PV("CURRENT:ELAPSED", "float", "wall time since the job started", unit="s", prec=1, **SCALARS),
    PV(
        "CURRENT:ESTIMATE",
        "float",
        "expected total duration, -1 unknown",
        unit="s",
        prec=1,
        **SCALARS,
    ),
    PV("CURRENT:REMAINING", "float", "expected time left, -1 unknown", unit="s", prec=1, **SCALARS),
    PV(
        "CURRENT:OUTPUT",
        "char",
        "last 16 kB of the job's stdout and stderr",
        count=65_536,
        **OUTPUT,
    ),
    # -- history -----------------------------------------------------------------------
    _json("HISTORY", "the last 100 finished jobs, newest first", MAX_CHAR_COUNT, **HIST_JSON),
    PV("LAST:ID", "int", "id of the most recently finished job, 0 when none", **LAST),
    PV(
        "LAST:STATE",
        "enum",
        "how it ended; added: `NONE` (after the contract's states) while no job has finished",
        enums=LAST_STATES,
        states=(0, _MAJOR, _MINOR, 0, _MAJOR, 0),
        extra={"value": LAST_STATE_NONE},
        **LAST,
    ),
    PV("LAST:ERROR", "string", "its error message (first 39 characters), empty if none", **LAST),
    PV("LAST:ERROR:TEXT", "char", "its error message in full", count=4096, added=True, **LAST),
    # -- commands ----------------------------------------------------------------------
    _json("COMMANDS", "the command catalogue", 8 * MB, **CMD_JSON),
    PV("COMMANDS:COUNT", "int", "number of commands", **CMD_COUNTS),
    PV("COMMANDS:REVISION", "int", "+1 every time the catalogue changes", **CMD_COUNTS),
    _json(
        "COMMANDS:ERRORS",
        "command sources that could not be read: [{file, line, message}]",
        262_144,
        **CMD_JSON,
    ),
    # -- replies and server ------------------------------------------------------------
    _json("REPLY", "the last 32 replies to control writes, newest first", 262_144, **REPLIES),
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
    _json("VALIDATE:RESULT", "result of the last VALIDATE write", 4 * MB, **VERDICT),
    PV("LOG", "char", "last 16 kB of the server's event log", count=65_536, **LOG),
    PV("SERVER:VERSION", "string", "server version", **HEARTBEAT),
    PV("SERVER:UPTIME", "float", "seconds since the server started", unit="s", prec=0, **HEARTBEAT),
    PV("SERVER:HEARTBEAT", "int", "+1 every second", **HEARTBEAT),
    # -- control -----------------------------------------------------------------------
    _control(
        "QUEUE:ADD",
        "char",
        "queue a job spec, a batch (JSON array) or call text",
        asyn=True,
        handler="add",
    ),
    _control("QUEUE:REMOVE", "char", "delete queued jobs: id, [ids] or all", handler="remove"),
    _control(
        "QUEUE:MOVE",
        "char",
        'reorder: {"id", "to"|"before"|"after"|"by"} or {"order"}',
        handler="move",
    ),
    _control(
        "QUEUE:UPDATE",
        "char",
        'edit a queued job: {"id", ...spec fields}; added: with the running job\'s id, '
        '{"id", "script"} replaces the part of its script not yet run (the lines up to the '
        "end of the current top-level statement must not change); the put completes when "
        "the job has the edit, so it replaces the lines before the job's next top-level "
        "statement (at most EDIT_RECEIPT_TIMEOUT, 2 s, for an older job); the job record's "
        "`edits` keeps each replaced text",
        asyn=True,
        handler="update",
    ),
    _control(
        "QUEUE:REPEAT",
        "char",
        'insert copies after a queued job: id or {"id", "times"}',
        handler="repeat",
    ),
    _control(
        "QUEUE:RERUN",
        "char",
        'queue a copy of a finished job: id or {"id", ...}',
        asyn=True,
        handler="rerun",
    ),
    _control(
        "QUEUE:SKIP", "char", "skip a queued job, or end the current one and go on", handler="skip"
    ),
    _control("QUEUE:CLEAR", "int", "1: delete every queued job", handler="clear", **ACTION),
    _control(
        "QUEUE:HOLD",
        "enum",
        "RUN, or HOLD: finish the current job and start no new one",
        enums=HOLD_MODES,
        states=(0, _MINOR),
        handler="set_hold",
        **STATE_,
    ),
    _control(
        "QUEUE:ON_ERROR",
        "enum",
        "after a failed job: HOLD the queue or CONTINUE",
        enums=ON_ERROR_MODES,
        handler="set_on_error",
        **STATE_,
    ),
    _control(
        "QUEUE:ON_INVALID",
        "enum",
        "before a job whose pre-flight (background dry run) fails: HOLD the queue or RUN it",
        enums=ON_INVALID_MODES,
        added=True,
        handler="set_on_invalid",
        **STATE_,
    ),
    _control(
        "PAUSE",
        "enum",
        "DEFERRED: at the next pause point; IMMEDIATE: suspend now",
        enums=PAUSE_MODES,
        handler="pause",
        **ACTION,
    ),
    _control("RESUME", "int", "1: continue a paused job", handler="resume", **ACTION),
    _control(
        "ABORT",
        "enum",
        "SOFT: exception at the next pause point, escalating; KILL: now",
        enums=ABORT_MODES,
        handler="abort",
        **ACTION,
    ),
    _control(
        "STOP", "int", "1: abort the current job and empty the queue", handler="stop", **ACTION
    ),
    _control(
        "VALIDATE",
        "char",
        'check a job without queueing; {"dry_run": true} simulates it',
        asyn=True,
        handler="validate",
    ),
    _control(
        "COMMANDS:RELOAD",
        "int",
        "1: re-read the command sources now",
        asyn=True,
        handler="reload_commands",
        **ACTION,
    ),
    _control(
        "JOB:OUTPUT:SELECT",
        "int",
        "a job id: JOB:OUTPUT gets the tail of that job's output log",
        added=True,
        handler="select_output",
    ),
    PV(
        "JOB:OUTPUT:ID",
        "int",
        "id of the job whose output JOB:OUTPUT holds, 0 none",
        added=True,
        **JOB_OUTPUT,
    ),
    PV(
        "JOB:OUTPUT",
        "char",
        "last 16 kB of the output of the job selected with JOB:OUTPUT:SELECT",
        count=65_536,
        added=True,
        **JOB_OUTPUT,
    ),
    _json(
        "JOB:PLOTS",
        "figures the job selected with JOB:OUTPUT:SELECT saved: {id, plots: [PNG paths]}, "
        "oldest first (docs/bluesky.md)",
        262_144,
        added=True,
        **PLOTS_JSON,
    ),
    PV(
        "CURRENT:PLOT",
        "char",
        "path of the newest figure (PNG) a job saved, empty before any; for screens",
        count=4096,
        added=True,
        **PLOTS,
    ),
) + tuple(
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
        _control(
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
