"""The one way tests wait: for a condition, with a timeout, never for a fixed time.

Unit tests import it directly; the system tests take it from `system_tests/conftest.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

TIMEOUT = 30.0
"""Default seconds to wait: generous, as a loaded CI machine needs; a pass returns early."""


def wait_until(
    condition: Callable[[], T],
    timeout: float = TIMEOUT,
    interval: float = 0.01,
    *,
    fail: bool = True,
) -> T:
    """Poll `condition()` until it is truthy and return its value.

    Args:
        condition: what to wait for (called at least once).
        timeout: seconds after which the wait is over: a failure bound, not a measurement.
        interval: seconds between two calls.
        fail: after `timeout`, fail the test (the default); False: return the last value
            (falsy) and let the caller say what was missing.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or (not fail and time.monotonic() > deadline):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout:g} s")
        time.sleep(interval)
