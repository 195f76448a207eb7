"""THE PV table: every PV of the script server, once.

The pcaspy database, the access-security groups, the generated PV reference
(`docs/pv-reference.md`) and the client's names all come from `PVS`. Names are relative to
the prefix. `:ZHEX` twins of JSON PVs are generated from the `json` flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import pvnames
from ..core import limits
from ..core.jobs import FINISHED_STATE_NAMES
from ..core.state import RUN_STATE_NAMES

READONLY = "READONLY"
CONTROL = "CONTROL"

MAX_WRITE_COUNT = limits.MAX_WRITE_BYTES + 1
"""Char count of the text control PVs (the write bound plus the terminating NUL)."""

MAX_ARRAY_BYTES = 40_000_000
"""`EPICS_CA_MAX_ARRAY_BYTES` the server sets for itself: above the largest char count."""


@dataclass(frozen=True)
class PV:
    """One process variable.

    Attributes:
        name: name after the prefix.
        type: pcaspy type: `char`, `int`, `float`, `enum` or `string`.
        description: one line for the PV reference.
        count: element count of a char waveform.
        enums: enum strings.
        states: alarm severity per enum state (pcaspy `Severity` values).
        unit: engineering unit.
        prec: display precision.
        control: True for PVs clients write (group CONTROL); False for status (READONLY).
        json: True if the value is JSON; a `:ZHEX` twin is generated.
        asyn: True if a put with callback completes later than the write returns.
        added: True for PVs that extend the contract (listed as additions in the reference).
    """

    name: str
    type: str
    description: str
    count: int = 1
    enums: tuple[str, ...] = ()
    states: tuple[int, ...] = ()
    unit: str = ""
    prec: int = 0
    control: bool = False
    json: bool = False
    asyn: bool = False
    added: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def pcaspy_entry(self) -> dict[str, Any]:
        """The pcaspy database entry for this PV."""
        entry: dict[str, Any] = {"type": self.type, "asg": CONTROL if self.control else READONLY}
        if self.type == "char":
            entry["count"] = self.count
            entry["value"] = [0]
        if self.enums:
            entry["enums"] = list(self.enums)
        if self.states:
            entry["states"] = list(self.states)
        if self.unit:
            entry["unit"] = self.unit
        if self.prec:
            entry["prec"] = self.prec
        if self.asyn:
            entry["asyn"] = True
        if self.type == "float":
            entry["value"] = -1.0
        entry.update(self.extra)
        return entry


MB = 1_000_000
_MINOR, _MAJOR = 1, 2

LAST_STATE_ENUMS = (*FINISHED_STATE_NAMES, "NONE")
"""`LAST:STATE`: the contract's terminal states, then the added `NONE`."""
LAST_STATE_NONE = LAST_STATE_ENUMS.index("NONE")


def _json(name: str, description: str, count: int, added: bool = False) -> PV:
    return PV(name, "char", description, count=count, json=True, added=added)


def _control(name: str, type_: str, description: str, **kw: Any) -> PV:
    if type_ == "char":
        kw.setdefault("count", MAX_WRITE_COUNT)
    return PV(name, type_, description, control=True, **kw)


PVS: tuple[PV, ...] = (
    # -- state -------------------------------------------------------------------------
    PV("STATE", "enum", "what the runner is doing", enums=tuple(RUN_STATE_NAMES)),
    PV(
        "STATE:CODE",
        "int",
        "NICOS status code: -2 idle after failure, -1 idle, 0 running, 1 paused, 2 stopping",
    ),
    _json(
        "STATUS",
        "server summary (state, hold, on_error, counts, eta, revision, version); added: "
        "`groups`, per `tags.group` batch until its last job ends: count, queued, estimate "
        "and unknown (of its queued jobs), done, failed, skipped, running (place of its "
        "running job), running_id, remaining (s) and finish (time of day)",
        65_536,
    ),
    # -- queue -------------------------------------------------------------------------
    _json("QUEUE", "every queued job record in run order", 16 * MB),
    PV("QUEUE:COUNT", "int", "number of queued jobs"),
    PV(
        "QUEUE:ETA",
        "float",
        "seconds until the current and all queued jobs have finished",
        unit="s",
        prec=1,
    ),
    PV(
        "QUEUE:FINISH",
        "string",
        "that moment as a local time of day ('07:40:12 +1d' on a later day), '-' when idle",
    ),
    # QUEUE:<n>:* slots are appended below
    # -- current job -------------------------------------------------------------------
    _json(
        "CURRENT",
        "job record of the current job, or null; `progress` is the job's monotonic "
        "progress; added: `group` ({name, position, count, text: '3 of 10'}) for a job "
        "with `tags.group`",
        2 * MB,
    ),
    PV("CURRENT:ID", "int", "id of the current job, 0 when none"),
    PV("CURRENT:NAME", "string", "name of the current job (first 39 characters)"),
    PV("CURRENT:NAME:TEXT", "char", "name of the current job in full", count=1024, added=True),
    PV(
        "CURRENT:SCRIPT", "char", "source being executed (generated for command jobs)", count=2 * MB
    ),
    PV("CURRENT:LINE", "int", "line of CURRENT:SCRIPT being executed, 0 when unknown"),
    PV("CURRENT:PROGRESS", "float", "percent done, -1 when unknown", unit="%", prec=1),
    PV("CURRENT:MESSAGE", "string", "last progress message (first 39 characters)"),
    PV("CURRENT:MESSAGE:TEXT", "char", "last progress message in full", count=4096, added=True),
    PV("CURRENT:ELAPSED", "float", "wall time since the job started", unit="s", prec=1),
    PV("CURRENT:ESTIMATE", "float", "expected total duration, -1 unknown", unit="s", prec=1),
    PV("CURRENT:REMAINING", "float", "expected time left, -1 unknown", unit="s", prec=1),
    PV("CURRENT:OUTPUT", "char", "last 16 kB of the job's stdout and stderr", count=65_536),
    # -- history -----------------------------------------------------------------------
    _json("HISTORY", "the last 100 finished jobs, newest first", 16 * MB),
    PV("LAST:ID", "int", "id of the most recently finished job, 0 when none"),
    PV(
        "LAST:STATE",
        "enum",
        "how it ended; added: `NONE` (after the contract's states) while no job has finished",
        enums=LAST_STATE_ENUMS,
        states=(0, _MAJOR, _MINOR, 0, _MAJOR, 0),
        extra={"value": LAST_STATE_NONE},
    ),
    PV("LAST:ERROR", "string", "its error message (first 39 characters), empty if none"),
    PV("LAST:ERROR:TEXT", "char", "its error message in full", count=4096, added=True),
    # -- commands ----------------------------------------------------------------------
    _json("COMMANDS", "the command catalogue", 8 * MB),
    PV("COMMANDS:COUNT", "int", "number of commands"),
    PV("COMMANDS:REVISION", "int", "+1 every time the catalogue changes"),
    _json(
        "COMMANDS:ERRORS",
        "command sources that could not be read: [{file, line, message}]",
        262_144,
    ),
    # -- replies and server ------------------------------------------------------------
    _json("REPLY", "the last 32 replies to control writes, newest first", 262_144),
    PV("LAST_ERROR", "string", "message of the most recent rejected write (first 39 chars)"),
    PV(
        "LAST_ERROR:TEXT",
        "char",
        "message of the most recent rejected write in full",
        count=4096,
        added=True,
    ),
    _json("VALIDATE:RESULT", "result of the last VALIDATE write", 4 * MB),
    PV("LOG", "char", "last 16 kB of the server's event log", count=65_536),
    PV("SERVER:VERSION", "string", "server version"),
    PV("SERVER:UPTIME", "float", "seconds since the server started", unit="s", prec=0),
    PV("SERVER:HEARTBEAT", "int", "+1 every second"),
    # -- control -----------------------------------------------------------------------
    _control("QUEUE:ADD", "char", "queue a job spec, a batch (JSON array) or call text", asyn=True),
    _control("QUEUE:REMOVE", "char", "delete queued jobs: id, [ids] or all"),
    _control("QUEUE:MOVE", "char", 'reorder: {"id", "to"|"before"|"after"|"by"} or {"order"}'),
    _control(
        "QUEUE:UPDATE",
        "char",
        'edit a queued job: {"id", ...spec fields}; added: with the running job\'s id, '
        '{"id", "script"} replaces the part of its script not yet run (the lines up to the '
        "end of the current top-level statement must not change); the job record's `edits` "
        "keeps each replaced text",
        asyn=True,
    ),
    _control("QUEUE:REPEAT", "char", 'insert copies after a queued job: id or {"id", "times"}'),
    _control("QUEUE:RERUN", "char", 'queue a copy of a finished job: id or {"id", ...}', asyn=True),
    _control("QUEUE:SKIP", "char", "skip a queued job, or end the current one and go on"),
    _control("QUEUE:CLEAR", "int", "1: delete every queued job"),
    _control(
        "QUEUE:HOLD",
        "enum",
        "RUN, or HOLD: finish the current job and start no new one",
        enums=pvnames.HOLD_MODES,
        states=(0, _MINOR),
    ),
    _control(
        "QUEUE:ON_ERROR",
        "enum",
        "after a failed job: HOLD the queue or CONTINUE",
        enums=pvnames.ON_ERROR_MODES,
    ),
    _control(
        "QUEUE:ON_INVALID",
        "enum",
        "before a job whose pre-flight (background dry run) fails: HOLD the queue or RUN it",
        enums=pvnames.ON_INVALID_MODES,
        added=True,
    ),
    _control(
        "PAUSE",
        "enum",
        "DEFERRED: at the next pause point; IMMEDIATE: suspend now",
        enums=pvnames.PAUSE_MODES,
    ),
    _control("RESUME", "int", "1: continue a paused job"),
    _control(
        "ABORT",
        "enum",
        "SOFT: exception at the next pause point, escalating; KILL: now",
        enums=pvnames.ABORT_MODES,
    ),
    _control("STOP", "int", "1: abort the current job and empty the queue"),
    _control(
        "VALIDATE",
        "char",
        'check a job without queueing; {"dry_run": true} simulates it',
        asyn=True,
    ),
    _control("COMMANDS:RELOAD", "int", "1: re-read the command sources now", asyn=True),
    _control(
        "JOB:OUTPUT:SELECT",
        "int",
        "a job id: JOB:OUTPUT gets the tail of that job's output log",
        added=True,
    ),
    PV("JOB:OUTPUT:ID", "int", "id of the job whose output JOB:OUTPUT holds, 0 none", added=True),
    PV(
        "JOB:OUTPUT",
        "char",
        "last 16 kB of the output of the job selected with JOB:OUTPUT:SELECT",
        count=65_536,
        added=True,
    ),
) + tuple(
    pv
    for n in range(1, pvnames.QUEUE_SLOTS + 1)
    for pv in (
        PV(f"QUEUE:{n}:ID", "int", f"id of queued job {n} (0 when absent)"),
        PV(f"QUEUE:{n}:NAME", "string", f"name of queued job {n} (first 39 characters)"),
        PV(
            f"QUEUE:{n}:ESTIMATE",
            "float",
            f"estimate of queued job {n}, -1 unknown",
            unit="s",
            prec=1,
        ),
        _control(
            f"QUEUE:{n}:ACTION",
            "enum",
            f"UP, DOWN, TOP or REMOVE the job now in queue slot {n} (for screens)",
            enums=pvnames.SLOT_ACTIONS,
            added=True,
        ),
        PV(
            f"HISTORY:{n}:ID",
            "int",
            f"id of finished job {n}, newest first (0 when none)",
            added=True,
        ),
        PV(
            f"HISTORY:{n}:NAME",
            "string",
            f"name of finished job {n} (first 39 characters)",
            added=True,
        ),
        PV(
            f"HISTORY:{n}:STATE",
            "enum",
            f"how finished job {n} ended (NONE when absent)",
            enums=pvnames.LAST_STATES,
            added=True,
            extra={"value": len(pvnames.LAST_STATES) - 1},
        ),
        PV(
            f"HISTORY:{n}:ERROR",
            "string",
            f"error of finished job {n}: type, line, message (first 39 characters)",
            added=True,
        ),
    )
)


def zhex_twin(pv: PV) -> PV:
    """The `:ZHEX` twin of a JSON PV: zlib-compressed, hex-encoded JSON."""
    return PV(
        f"{pv.name}:ZHEX",
        "char",
        f"{pv.name} as zlib-compressed hex (IBEX format)",
        count=2 * pv.count,
        added=pv.added,
    )


ALL_PVS: tuple[PV, ...] = PVS + tuple(zhex_twin(pv) for pv in PVS if pv.json)
"""Every PV served, twins included."""

BY_NAME: dict[str, PV] = {pv.name: pv for pv in ALL_PVS}
CONTROL_PVS = tuple(pv.name for pv in ALL_PVS if pv.control)


def pvdb() -> dict[str, dict[str, Any]]:
    """The pcaspy database of every PV."""
    return {pv.name: pv.pcaspy_entry() for pv in ALL_PVS}


def check_control_handlers(handlers: dict[str, Any], control_pvs: tuple[str, ...]) -> None:
    """Every control PV has exactly one handler and every handler a control PV.

    Called when the driver is imported, against `core.server.CONTROL_HANDLERS` (as NICOS
    checks its command table at start), so a PV added without a handler, or a handler
    left after its PV was removed, stops the IOC before it serves anything.

    Raises:
        ImportError: naming the PVs without a handler and the handlers without a PV.
    """
    missing = sorted(set(control_pvs) - set(handlers))
    orphans = sorted(set(handlers) - set(control_pvs))
    if missing or orphans:
        raise ImportError(
            f"PV table and control handlers disagree: no handler for {missing or 'none'}; "
            f"no control PV for handlers {orphans or 'none'}"
        )
