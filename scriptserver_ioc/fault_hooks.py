"""Faults the fault campaign switches on in a real IOC, through environment variables.

Test-only: production never sets these variables, and nothing else reads them. Each one
reproduces, deterministically and on every OS, a fault that otherwise needs luck or root:

- ``SCRIPTSERVER_TEST_STORE_FULL=<path>``: while a file exists at ``<path>``, every store
  transaction fails at its commit with SQLite's own ``database or disk is full`` error and
  is rolled back, as on a full disk; reads still work. Remove the file and space is back.
- ``SCRIPTSERVER_TEST_DROP_STARTED=1``: the runner never reports a job's ``started`` event,
  so core keeps only the launch record written before the launch: the state of a server
  that dies between marking a job RUNNING and hearing it start.
"""

from __future__ import annotations

import os
from pathlib import Path

STORE_FULL = "SCRIPTSERVER_TEST_STORE_FULL"
DROP_STARTED = "SCRIPTSERVER_TEST_DROP_STARTED"


def store_full_flag() -> Path | None:
    """The file whose existence makes store writes fail, or None (always, in production)."""
    value = os.environ.get(STORE_FULL)
    return Path(value) if value else None


def drop_started() -> bool:
    """True if the runner must not report ``started`` events (never, in production)."""
    return os.environ.get(DROP_STARTED) == "1"
