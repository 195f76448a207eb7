"""The NICOS daemon's status codes: `STATE:CODE` and the NICOS bridge's `getstatus`.

The values are NICOS's own (`nicos/protocols/daemon/__init__.py`); the IBEX GUI knows them.
"""

from __future__ import annotations

from .enums import RunState

STATUS_IDLEEXC = -2
"""Idle after a failed script."""
STATUS_IDLE = -1
STATUS_RUNNING = 0
STATUS_INBREAK = 1
"""Paused."""
STATUS_STOPPING = 2

BY_RUN_STATE: dict[RunState, int] = {
    RunState.IDLE: STATUS_IDLE,
    RunState.RUNNING: STATUS_RUNNING,
    RunState.PAUSING: STATUS_RUNNING,
    RunState.PAUSED: STATUS_INBREAK,
    RunState.ABORTING: STATUS_STOPPING,
}
"""The NICOS code of each run state (idle after a failure is `STATUS_IDLEEXC` instead)."""
