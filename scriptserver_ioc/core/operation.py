"""The core's typed calls: who asks (`Request`), what a decision learns (`Operation`).

Every change a client asks for is one call of the core's typed API (`add(specs)`,
`remove(ids)`, `move(id, how, target)`, `pause(immediate)`, `abort(kill)`, ...), made by an
edge (`ioc/writes.py` for Channel Access writes, `nicos/adapter.py` for the NICOS bridge)
with the values already decoded. `control_call` turns a handler into such a call: the
handler decides under the core's lock, the call answers with the `Reply`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..contract.reply import Reply


@dataclass
class Request:
    """Who asks for a change, and how the answer goes back (given by the edge).

    Attributes:
        label: what the reply is labelled with, the edge's name of what was asked (the
            control PV written, e.g. ``QUEUE:ADD``); the core does not read it.
        client: who asks, ``user@host``, for the event log.
        request_id: the client's request id, echoed in the reply.
        on_done: called exactly once with the reply when the change is complete.
    """

    label: str
    client: str = ""
    request_id: str | None = None
    on_done: Callable[[Reply], None] | None = None


class Operation:
    """What a control handler learns while it runs: request id, new ids, its message.

    Handlers fill it in; the server turns it into a `Reply` (`reply`) once decided, and
    calls `on_done(reply)` when the write is complete.
    """

    def __init__(self, request: Request) -> None:
        self.label = request.label
        self.client = request.client
        self.request_id: str | None = request.request_id
        self.job_ids: list[int] = []
        self.message = "ok"
        self.ok = False
        self.on_done: Any = request.on_done
        self.reply: Reply | None = None
        self.edit_number: int | None = None
        """An edit of the running job sent by this write: its put completes when the job
        has the edit (`RunningEdit.hold_edit_completion`)."""


def control_call(handler: Callable[..., Any]) -> Callable[..., Reply | None]:
    """A call of the core's API made of `handler(core, op, *args)`: one decision.

    The call takes the handler's arguments after `op`, then the `Request`, and returns the
    reply (None while the decision waits for slow work; `request.on_done` gets it then).
    It keeps the handler's annotations: a handler that may return a `Later` defers, and the
    PV table's `asyn` must say so (`contract.pvmodel.check_control_handlers`).
    """

    @functools.wraps(handler)
    def call(core: Any, *args: Any) -> Reply | None:
        *values, request = args
        return core.decide_call(request, lambda op: handler(core, op, *values))

    return call
