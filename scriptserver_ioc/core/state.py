"""Run states of the server and the replies to control writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class RunState(str, Enum):
    """What the runner is doing: the `STATE` enum, in contract order."""

    IDLE = "IDLE"
    RUNNING = "RUNNING"
    PAUSING = "PAUSING"
    PAUSED = "PAUSED"
    ABORTING = "ABORTING"


RUN_STATE_NAMES = [state.value for state in RunState]
"""Enum strings of the `STATE` PV."""

NICOS_IDLE_AFTER_FAILURE = -2
NICOS_IDLE = -1
NICOS_CODES = {
    RunState.IDLE: NICOS_IDLE,
    RunState.RUNNING: 0,
    RunState.PAUSING: 0,
    RunState.PAUSED: 1,
    RunState.ABORTING: 2,
}
"""`STATE:CODE`: the NICOS status codes the IBEX GUI knows."""


@dataclass
class Reply:
    """The outcome of one control write, as published in `REPLY`."""

    seq: int
    pv: str
    ok: bool
    message: str
    request_id: str | None = None
    job_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The reply as the JSON object of the contract."""
        return {
            "seq": self.seq,
            "pv": self.pv,
            "request_id": self.request_id,
            "ok": self.ok,
            "message": self.message,
            "job_ids": self.job_ids,
        }


class Operation:
    """What a control handler learns while it runs: request id, new ids, its message.

    Handlers fill it in; the server turns it into a `Reply` (`reply`) once decided, and
    calls `on_done(reply)` when the write is complete.
    """

    def __init__(self, pv: str, client: str) -> None:
        self.pv = pv
        self.client = client
        self.request_id: str | None = None
        self.job_ids: list[int] = []
        self.message = "ok"
        self.ok = False
        self.value: Any = None
        self.on_done: Any = None
        self.reply: Reply | None = None
        self.edit_number: int | None = None
        """An edit of the running job sent by this write: its put completes when the job
        has the edit (`RunningEdit.hold_edit_completion`)."""
