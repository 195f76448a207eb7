"""The enums of the contract: run and job states, the modes of the enum PVs, queue slots.

Each enum is written once here; the PV table (`contract/pvtable.py`) takes its enum
strings from these tuples, the core its states, the client its choices.
"""

from __future__ import annotations

from enum import Enum


class RunState(str, Enum):
    """What the runner is doing: the `STATE` enum, in contract order."""

    IDLE = "IDLE"
    RUNNING = "RUNNING"
    PAUSING = "PAUSING"
    PAUSED = "PAUSED"
    ABORTING = "ABORTING"


class JobState(str, Enum):
    """Life-cycle state of a job, as in the job record's `state`."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    DONE = "DONE"
    FAILED = "FAILED"
    ABORTED = "ABORTED"
    SKIPPED = "SKIPPED"
    INTERRUPTED = "INTERRUPTED"


RUN_STATES: tuple[str, ...] = tuple(state.value for state in RunState)
"""`STATE`: what the runner is doing."""

FINISHED_STATES: tuple[str, ...] = tuple(
    state.value
    for state in (
        JobState.DONE,
        JobState.FAILED,
        JobState.ABORTED,
        JobState.SKIPPED,
        JobState.INTERRUPTED,
    )
)
"""How a job ends (the job record's terminal `state`), in the order of `LAST:STATE`."""

LAST_STATES: tuple[str, ...] = (*FINISHED_STATES, "NONE")
"""`LAST:STATE` and `HISTORY:<n>:STATE`: how a job ended; the added NONE while none has."""

LAST_STATE_NONE = LAST_STATES.index("NONE")
"""Index of NONE in `LAST_STATES`."""

HOLD_MODES = ("RUN", "HOLD")
"""`QUEUE:HOLD`."""

ON_ERROR_MODES = ("HOLD", "CONTINUE")
"""`QUEUE:ON_ERROR`: what the queue does after a failed job."""

ON_INVALID_MODES = ("HOLD", "RUN")
"""`QUEUE:ON_INVALID`: what the queue does before a job whose pre-flight dry run fails."""

PAUSE_MODES = ("NONE", "DEFERRED", "IMMEDIATE")
"""`PAUSE`: 1 at the next pause point, 2 suspend now."""

ABORT_MODES = ("NONE", "SOFT", "KILL")
"""`ABORT`: 1 an exception at the next pause point (escalating), 2 kill now."""

QUEUE_SLOTS = 10
"""`QUEUE:<n>:*` and `HISTORY:<n>:*` slots for screens, n = 1..QUEUE_SLOTS."""

SLOT_ACTIONS = ("NONE", "UP", "DOWN", "TOP", "REMOVE")
"""`QUEUE:<n>:ACTION`: what to do with the job in queue slot n."""
