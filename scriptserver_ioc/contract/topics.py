"""The topics the core reports to its listeners after a change.

A listener (the IOC's publisher, the NICOS bridge) hears the set of topics that changed and
rebuilds what depends on them; the PV table (`contract/pvtable.py`) names, beside each
published PV, the topics that refresh it; the table checks its topics at import, and the
publisher that every topic refreshes some PV.
"""

from __future__ import annotations

TOPICS: frozenset[str] = frozenset(
    {
        "queue",  # the queued jobs: order, records, estimates
        "current",  # which job runs, its record
        "line",  # the line the current job executes
        "progress",  # the current job's progress and message
        "state",  # the run state (IDLE, RUNNING, ...)
        "settings",  # hold, on-error and on-invalid modes
        "history",  # a job finished
        "last",  # the most recent finished job changed (e.g. its record was completed)
        "replies",  # a control write was answered
        "last_error",  # a write was refused
        "validate",  # VALIDATE:RESULT
        "output",  # the current job's output tail
        "script",  # the current job's source
        "log",  # the server's event log
        "job_output",  # the job output selected with JOB:OUTPUT:SELECT
        "plots",  # a job saved a figure; the figures of the job selected
        "commands",  # the command catalogue
        "status",  # the server summary alone (e.g. the store's error)
        "tick",  # one second passed (clocks, heartbeat)
    }
)
"""Every topic; `ScriptServer.touch` refuses any other."""
