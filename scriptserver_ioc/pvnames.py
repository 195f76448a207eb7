"""PV names and enum strings a client needs, with the standard library only.

The console tool and the Python client import this module and nothing of the server (no
pcaspy). The server's PV table (`ioc/pvtable.py`) takes the control enums from here, and
`tests/test_pvnames.py` checks every name and enum below against that table.
"""

from __future__ import annotations

RUN_STATES = ("IDLE", "RUNNING", "PAUSING", "PAUSED", "ABORTING")
"""`STATE`: what the runner is doing."""

FINISHED_STATES = ("DONE", "FAILED", "ABORTED", "SKIPPED", "INTERRUPTED")
"""How a job ends (the job record's terminal `state`)."""

LAST_STATES = (*FINISHED_STATES, "NONE")
"""`LAST:STATE`: how the most recent job ended; NONE while no job has finished."""

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

ENUMS: dict[str, tuple[str, ...]] = {
    "STATE": RUN_STATES,
    "LAST:STATE": LAST_STATES,
    "QUEUE:HOLD": HOLD_MODES,
    "QUEUE:ON_ERROR": ON_ERROR_MODES,
    "QUEUE:ON_INVALID": ON_INVALID_MODES,
    "PAUSE": PAUSE_MODES,
    "ABORT": ABORT_MODES,
    **{f"QUEUE:{n}:ACTION": SLOT_ACTIONS for n in range(1, QUEUE_SLOTS + 1)},
    **{f"HISTORY:{n}:STATE": LAST_STATES for n in range(1, QUEUE_SLOTS + 1)},
}
"""Every enum PV and its strings, in index order."""

JSON_PVS = (
    "STATUS",
    "QUEUE",
    "CURRENT",
    "HISTORY",
    "COMMANDS",
    "COMMANDS:ERRORS",
    "REPLY",
    "VALIDATE:RESULT",
)
"""Char waveforms holding JSON."""

TEXT_PVS = (
    "CURRENT:NAME:TEXT",
    "CURRENT:SCRIPT",
    "CURRENT:MESSAGE:TEXT",
    "CURRENT:OUTPUT",
    "JOB:OUTPUT",
    "LAST:ERROR:TEXT",
    "LAST_ERROR:TEXT",
    "LOG",
)
"""Char waveforms holding plain text."""

TEXT_CONTROL_PVS = (
    "QUEUE:ADD",
    "QUEUE:REMOVE",
    "QUEUE:MOVE",
    "QUEUE:UPDATE",
    "QUEUE:REPEAT",
    "QUEUE:RERUN",
    "QUEUE:SKIP",
    "VALIDATE",
)
"""Control PVs written as text (char waveforms)."""

REQUEST_ID_PVS = (
    "QUEUE:ADD",
    "QUEUE:MOVE",
    "QUEUE:UPDATE",
    "QUEUE:REPEAT",
    "QUEUE:RERUN",
    "VALIDATE",
)
"""Control PVs whose JSON object may carry a `request_id` that the reply echoes."""


def char_pv(name: str) -> bool:
    """True if `name` (or its `:ZHEX` twin) is a char waveform the client reads as text."""
    base = name.removesuffix(":ZHEX")
    return base in JSON_PVS or base in TEXT_PVS or name in TEXT_CONTROL_PVS


def slot_of(name: str) -> int:
    """The slot number n of a `QUEUE:<n>:*` or `HISTORY:<n>:*` PV name."""
    return int(name.split(":")[1])
