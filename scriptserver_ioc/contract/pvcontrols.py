"""The control PVs (the writes clients make), and the job-output PVs `JOB:OUTPUT:SELECT` selects.

Rows of the PV table (`contract/pvtable.py` assembles them in this order after the
published rows). Each control row names its handler (a key of
`ioc.writes.CONTROL_HANDLERS`), whether it defers (`asyn`) and, for an action PV, the idle
value it reads back as. Standard library only.
"""

from __future__ import annotations

from .enums import (
    ABORT_MODES,
    HOLD_MODES,
    ON_ERROR_MODES,
    ON_INVALID_MODES,
    PAUSE_MODES,
)
from .pvmodel import PV
from .pvspecs import (
    ACTION,
    JOB_OUTPUT,
    MINOR,
    PLOTS,
    PLOTS_JSON,
    STATE_,
    control_pv,
    json_pv,
)

CONTROL_ROWS: tuple[PV, ...] = (
    # -- control -----------------------------------------------------------------------
    control_pv(
        "QUEUE:ADD",
        "char",
        "queue a job spec, a batch (JSON array) or call text",
        asyn=True,
        handler="add",
    ),
    control_pv("QUEUE:REMOVE", "char", "delete queued jobs: id, [ids] or all", handler="remove"),
    control_pv(
        "QUEUE:MOVE",
        "char",
        'reorder: {"id", "to"|"before"|"after"|"by"} or {"order"}',
        handler="move",
    ),
    control_pv(
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
    control_pv(
        "QUEUE:REPEAT",
        "char",
        'insert copies after a queued job: id or {"id", "times"}',
        handler="repeat",
    ),
    control_pv(
        "QUEUE:RERUN",
        "char",
        'queue a copy of a finished job: id or {"id", ...}',
        asyn=True,
        handler="rerun",
    ),
    control_pv(
        "QUEUE:SKIP", "char", "skip a queued job, or end the current one and go on", handler="skip"
    ),
    control_pv("QUEUE:CLEAR", "int", "1: delete every queued job", handler="clear", **ACTION),
    control_pv(
        "QUEUE:HOLD",
        "enum",
        "RUN, or HOLD: finish the current job and start no new one",
        enums=HOLD_MODES,
        states=(0, MINOR),
        handler="set_hold",
        **STATE_,
    ),
    control_pv(
        "QUEUE:ON_ERROR",
        "enum",
        "after a failed job: HOLD the queue or CONTINUE",
        enums=ON_ERROR_MODES,
        handler="set_on_error",
        **STATE_,
    ),
    control_pv(
        "QUEUE:ON_INVALID",
        "enum",
        "before a job whose pre-flight (background dry run) fails: HOLD the queue or RUN it",
        enums=ON_INVALID_MODES,
        added=True,
        handler="set_on_invalid",
        **STATE_,
    ),
    control_pv(
        "PAUSE",
        "enum",
        "DEFERRED: at the next pause point; IMMEDIATE: suspend now",
        enums=PAUSE_MODES,
        handler="pause",
        **ACTION,
    ),
    control_pv("RESUME", "int", "1: continue a paused job", handler="resume", **ACTION),
    control_pv(
        "ABORT",
        "enum",
        "SOFT: exception at the next pause point, escalating; KILL: now",
        enums=ABORT_MODES,
        handler="abort",
        **ACTION,
    ),
    control_pv(
        "STOP", "int", "1: abort the current job and empty the queue", handler="stop", **ACTION
    ),
    control_pv(
        "VALIDATE",
        "char",
        'check a job without queueing; {"dry_run": true} simulates it',
        asyn=True,
        handler="validate",
    ),
    control_pv(
        "COMMANDS:RELOAD",
        "int",
        "1: re-read the command sources now",
        asyn=True,
        handler="reload_commands",
        **ACTION,
    ),
    control_pv(
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
    json_pv(
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
)
"""The control rows, in the order the PV reference lists them."""
