"""The publisher's builders: each turns one consistent snapshot of the core into PV values.

A builder is named in the PV table (`contract.pvmodel.PV.builder`) beside every PV it sets. It reads
what it needs of the core through the core's snapshot methods (`core/snapshots.py`), each
of which copies plain values under `core.lock`; a builder that needs several takes the lock
around them, in one critical section (so `QUEUE:COUNT` and `QUEUE:1:ID` come from the same
queue). Formatting and JSON encoding happen after, outside the lock. A builder never takes
the publisher's lock (the order is: `core.lock` alone, then the publisher's lock alone).

Three builders read no core state under `core.lock`, each for a stated reason: the catalogue
(`commands_counts`, `commands_json`) swaps immutable snapshots and needs no lock, and the
heartbeat reads the publisher's own counter and the core's start time, which never changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from .. import __version__
from ..contract.enums import FINISHED_STATES, LAST_STATE_NONE, LAST_STATES, QUEUE_SLOTS
from ..contract.pvtable import BY_NAME
from ..core.forecast import queue_finish
from ..core.job_output import selected_output
from ..core.plots import plots_view
from .encoding import to_json, zhex

log = logging.getLogger(__name__)

Builder = Callable[[Any], dict[str, Any]]
"""`builder(publisher)` -> {PV name: value}."""


def _fit_list(items: list[str], count: int) -> str:
    """A JSON array of as many leading items as fit in a char PV of `count`."""
    text = "[" + ",".join(items) + "]"
    while len(text) >= count and items:
        items = items[: len(items) * 9 // 10]
        text = "[" + ",".join(items) + "]"
        log.warning("list cut to %d entries to fit %d bytes", len(items), count)
    return text


def _or_unknown(value: float | None) -> float:
    return -1.0 if value is None else float(value)


def _counts(p: Any) -> dict[str, Any]:
    core = p.core
    with core.lock:  # one critical section: the count and the slots of the same queue
        count = core.queue_count()
        slots = core.queue_slots()
        eta, finish, idle = core.queue_eta(), core.finish_eta(), core.nothing_to_run()
    p.memory.queue_count(count)
    values: dict[str, Any] = {"QUEUE:COUNT": count}
    for n, (job_id, name, estimate) in enumerate(slots, start=1):
        values[f"QUEUE:{n}:ID"] = job_id
        values[f"QUEUE:{n}:NAME"] = name
        values[f"QUEUE:{n}:ESTIMATE"] = estimate
    values["QUEUE:ETA"] = eta
    values["QUEUE:FINISH"] = queue_finish(finish, idle=idle)
    return values


def _state(p: Any) -> dict[str, Any]:
    settings = p.core.run_settings()
    return {
        "STATE": settings["state"],
        "STATE:CODE": settings["state_code"],
        "QUEUE:HOLD": int(settings["hold"]),
        "QUEUE:ON_ERROR": 0 if settings["on_error_hold"] else 1,
        "QUEUE:ON_INVALID": 0 if settings["on_invalid_hold"] else 1,
    }


_NO_CURRENT = {
    "CURRENT:ID": 0,
    "CURRENT:NAME": "",
    "CURRENT:NAME:TEXT": "",
    "CURRENT:LINE": 0,
    "CURRENT:PROGRESS": -1.0,
    "CURRENT:MESSAGE": "",
    "CURRENT:MESSAGE:TEXT": "",
    "CURRENT:ELAPSED": 0.0,
    "CURRENT:ESTIMATE": -1.0,
    "CURRENT:REMAINING": -1.0,
}


def _current_scalars(p: Any) -> dict[str, Any]:
    job = p.core.current_scalars()
    if job is None:
        return dict(_NO_CURRENT)
    return {
        "CURRENT:ID": job["id"],
        "CURRENT:NAME": job["name"],
        "CURRENT:NAME:TEXT": job["name"],
        "CURRENT:LINE": job["line"] or 0,
        "CURRENT:PROGRESS": _or_unknown(job["progress"]),
        "CURRENT:MESSAGE": job["message"],
        "CURRENT:MESSAGE:TEXT": job["message"],
        "CURRENT:ELAPSED": job["elapsed"] or 0.0,
        "CURRENT:ESTIMATE": _or_unknown(job["estimate"]),
        "CURRENT:REMAINING": _or_unknown(job["remaining"]),
    }


def _brief_error(error: dict[str, Any] | None, with_line: bool) -> str:
    if not error:
        return ""
    line = f" line {error['line']}" if with_line and error.get("line") else ""
    return f"{error.get('type')}{line}: {error.get('message')}"


def _last(p: Any) -> dict[str, Any]:
    recent = [  # finished records do not change
        (job.id, job.name, job.state.value, job.error or {})
        for job in p.core.recent_history(QUEUE_SLOTS)
    ]
    values: dict[str, Any] = {}
    for n in range(1, QUEUE_SLOTS + 1):
        job_id, name, state, error = recent[n - 1] if n <= len(recent) else (0, "", "", {})
        values[f"HISTORY:{n}:ID"] = job_id
        values[f"HISTORY:{n}:NAME"] = name
        values[f"HISTORY:{n}:STATE"] = LAST_STATES.index(state) if state else LAST_STATE_NONE
        values[f"HISTORY:{n}:ERROR"] = _brief_error(error, with_line=True)
    if not recent:
        none = {"LAST:ID": 0, "LAST:STATE": LAST_STATE_NONE, "LAST:ERROR": ""}
        return {**none, "LAST:ERROR:TEXT": "", **values}
    job_id, _, state, error = recent[0]
    text = _brief_error(error, with_line=False)
    last = {"LAST:ID": job_id, "LAST:STATE": FINISHED_STATES.index(state)}
    return {**last, "LAST:ERROR": text, "LAST:ERROR:TEXT": text, **values}


def _heartbeat(p: Any) -> dict[str, Any]:
    # the publisher's own counter (heartbeat thread) and a start time that never changes
    return {
        "SERVER:HEARTBEAT": p.heartbeat,
        "SERVER:VERSION": __version__,
        "SERVER:UPTIME": time.time() - p.core.started_at,
    }


def _commands_counts(p: Any) -> dict[str, Any]:
    catalogue = p.core.catalogue  # immutable snapshots swapped in: no lock needed
    return {"COMMANDS:COUNT": len(catalogue.names()), "COMMANDS:REVISION": catalogue.revision}


def _under_core_lock(p: Any, read: Callable[[Any], Any]) -> Any:
    with p.core.lock:
        return read(p.core)


def _history_json(p: Any) -> dict[str, str]:
    return {"HISTORY": _fit_list(p.core.history_texts(), BY_NAME["HISTORY"].count)}


def _queue_json(p: Any) -> dict[str, bytes]:
    # spliced from the last value: only the records that changed are encoded again
    return {"QUEUE": p.spliced["QUEUE"].build(p.core.queue_texts())}


def _queue_summary(p: Any) -> dict[str, bytes]:
    return {"QUEUE:SUMMARY": p.spliced["QUEUE:SUMMARY"].build(p.core.queue_summary_texts())}


def _commands_json(p: Any) -> dict[str, str]:
    catalogue = p.core.catalogue  # immutable snapshots swapped in: no lock needed
    return {
        "COMMANDS": to_json(catalogue.to_json()),
        "COMMANDS:ERRORS": to_json(catalogue.errors),
    }


def _selected_plots(p: Any) -> dict[str, Any]:
    _, selected, figures = plots_view(p.core)
    return {"id": selected, "plots": figures}


def _encoded(name: str, read: Callable[[Any], Any]) -> Builder:
    """A builder of one JSON PV: `read(core)` under the lock, encoded after."""
    return lambda p: {name: to_json(_under_core_lock(p, read))}


JSON_BUILDERS: dict[str, Builder] = {  # JSON text, or already a PV value (`json_value`)
    "replies": _encoded("REPLY", lambda core: core.replies_list()),
    # a new result dict is assigned for every change, never changed in place
    "validate": _encoded("VALIDATE:RESULT", lambda core: core.texts()["validate"]),
    "queue_json": _queue_json,
    "queue_summary": _queue_summary,
    "history_json": _history_json,
    "commands_json": _commands_json,
    "current_json": _encoded("CURRENT", lambda core: core.current_record()),
    "status": _encoded("STATUS", lambda core: core.status()),
    "plots_json": lambda p: {"JOB:PLOTS": to_json(_selected_plots(p))},
}
"""Builders of JSON PVs; each also has a `<name>_zhex` twin built from the same texts."""


def _plain(group: str) -> Builder:
    return lambda p: p.json_texts(group)


def _zhex_of(group: str) -> Builder:
    return lambda p: {
        f"{name}:ZHEX": zhex(memoryview(value)[:-1]) for name, value in p.json_texts(group).items()
    }


LAST_ERROR_PVS = ("LAST_ERROR", "LAST_ERROR:TEXT")
JOB_OUTPUT_PVS = ("JOB:OUTPUT:ID", "JOB:OUTPUT")


def _text(p: Any, name: str) -> str:
    return p.core.texts()[name]


BUILDERS: dict[str, Builder] = {
    "counts": _counts,
    "state": _state,
    "current_scalars": _current_scalars,
    "last": _last,
    "heartbeat": _heartbeat,
    "commands_counts": _commands_counts,
    "last_error": lambda p: dict.fromkeys(LAST_ERROR_PVS, _text(p, "last_error")),
    "script": lambda p: {"CURRENT:SCRIPT": _text(p, "script")},
    "output": lambda p: {"CURRENT:OUTPUT": _text(p, "output")},
    "log": lambda p: {"LOG": p.core.log_text()},
    "job_output": lambda p: dict(zip(JOB_OUTPUT_PVS, selected_output(p.core))),
    "plots": lambda p: {"CURRENT:PLOT": plots_view(p.core)[0]},
    **{group: _plain(group) for group in JSON_BUILDERS},
    **{f"{group}_zhex": _zhex_of(group) for group in JSON_BUILDERS},
}
"""Builder name (as in the PV table) -> builder."""
