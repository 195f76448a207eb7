"""`Operation`: what a control handler learns while it runs."""

from __future__ import annotations

from typing import Any

from ..contract.reply import Reply


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
