"""The makings of a PV row: what rebuilds a published PV, and the shapes of JSON and control rows.

Each published PV carries its builder (`ioc/builders.py`), the topics that rebuild it
(`contract/topics.py`) and its rebuild interval; the constants here name those triples
once, for the rows of `contract/pvtable.py`, `contract/pvcontrols.py` and
`contract/pvslots.py`. Standard library only.
"""

from __future__ import annotations

from typing import Any

from .pvmodel import MAX_WRITE_COUNT, PV

MB = 1_000_000
MINOR, MAJOR = 1, 2


def published(builder: str, *topics: str, interval: float | None = None) -> dict[str, Any]:
    """A published PV's builder, the topics that rebuild it and its rebuild interval."""
    return {"builder": builder, "topics": topics, "interval": interval}


# builder, topics and rebuild interval (None: posted by the writer before its write
# returns) of the published PVs; the builders are in `ioc/builders.py`, the topics in
# `contract/topics.py`
STATE_ = published("state", "state", "settings")
STATUS = published(
    "status",
    *("queue", "current", "state", "settings", "history", "commands", "status", "tick"),
    interval=0.1,
)
COUNTS = published("counts", "queue", "current", "progress", "tick")
QUEUE_JSON = published("queue_json", "queue", interval=0.05)
QUEUE_SUMMARY = published("queue_summary", "queue", interval=0.05)
CUR_JSON = published("current_json", "current", "line", "progress", interval=0.1)
SCALARS = published("current_scalars", "current", "line", "progress", "state", "tick")
SCRIPT = published("script", "script", interval=0.0)
OUTPUT = published("output", "output", interval=0.2)
HIST_JSON = published("history_json", "history", interval=0.05)
LAST = published("last", "history", "last")
CMD_JSON = published("commands_json", "commands", interval=0.0)
CMD_COUNTS = published("commands_counts", "commands")
REPLIES = published("replies", "replies")
LAST_ERROR = published("last_error", "last_error")
VERDICT = published("validate", "validate")
LOG = published("log", "log", interval=0.1)
HEARTBEAT = published("heartbeat", "tick")
JOB_OUTPUT = published("job_output", "job_output")
PLOTS = published("plots", "plots")
PLOTS_JSON = published("plots_json", "plots")
ACTION = {"idle": 0}
"""An action PV: it reads back as 0 once a write was processed."""


def json_pv(name: str, description: str, count: int, added: bool = False, **kw: Any) -> PV:
    """A JSON PV (a char waveform with a `:ZHEX` twin) of up to `count` characters."""
    return PV(name, "char", description, count=count, json=True, added=added, **kw)


def control_pv(name: str, type_: str, description: str, **kw: Any) -> PV:
    """A control PV; a char one takes writes up to `MAX_WRITE_COUNT` characters."""
    if type_ == "char":
        kw.setdefault("count", MAX_WRITE_COUNT)
    return PV(name, type_, description, control=True, **kw)
