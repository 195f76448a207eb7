"""Per-slot queue actions for screens: UP, DOWN, TOP or REMOVE the job in queue slot n.

An operator screen cannot write a job id it only displays, so each of the first queue
slots has an action. It acts on the job in slot n when the server receives it, through
the ordinary move and remove of the queue (same checks, log and reply), called directly.
"""

from __future__ import annotations

from typing import Any

from .operation import Operation
from .specs import Rejected

_MOVES = {"UP": ("by", -1), "DOWN": ("by", 1), "TOP": ("to", 0)}
"""How each action moves its job (`QueueControl.move_job`)."""


def slot_action(server: Any, op: Operation, slot: int, action: str) -> None:
    """Apply `action` (REMOVE, UP, DOWN or TOP) to the job in queue slot `slot` (1: first)."""
    ids = server.queue.ids()
    if slot > len(ids):
        raise Rejected(f"queue slot {slot} is empty (the queue has {len(ids)} jobs)")
    job_id = ids[slot - 1]
    if action == "REMOVE":
        server.remove_jobs(op, [job_id])
    else:
        server.move_job(op, job_id, *_MOVES[action])
