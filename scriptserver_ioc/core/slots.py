"""Per-slot queue actions for screens: `QUEUE:<n>:ACTION` (UP, DOWN, TOP, REMOVE).

An operator screen cannot write a job id it only displays, so each of the first queue
slots has an action PV. A write acts on the job in slot n when the server receives it,
through the ordinary QUEUE:MOVE and QUEUE:REMOVE handlers (same checks, log and reply).
"""

from __future__ import annotations

from typing import Any

from ..contract.enums import SLOT_ACTIONS
from ..contract.pvtable import slot_of
from .operation import Operation
from .specs import Rejected

_MOVES = {"UP": ("by", -1), "DOWN": ("by", 1), "TOP": ("to", 0)}
"""How each action moves its job (`QueueControl.move_job`), called directly, no JSON."""


def slot_action(server: Any, op: Operation, value: Any) -> None:
    """Apply action `value` (an index of SLOT_ACTIONS) to the job in the slot of `op.pv`."""
    slot = slot_of(op.pv)
    if isinstance(value, bool) or value not in range(1, len(SLOT_ACTIONS)):
        choices = ", ".join(f"{i} ({name})" for i, name in enumerate(SLOT_ACTIONS) if i)
        raise Rejected(f"write one of {choices}, got {value!r:.40}")
    ids = server.queue.ids()
    if slot > len(ids):
        raise Rejected(f"queue slot {slot} is empty (the queue has {len(ids)} jobs)")
    job_id, action = ids[slot - 1], SLOT_ACTIONS[value]
    if action == "REMOVE":
        server.remove_jobs(op, [job_id])
    else:
        server.move_job(op, job_id, *_MOVES[action])
