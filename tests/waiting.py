"""The one way unit tests wait: for a condition, with a timeout, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

TIMEOUT = 30.0
"""Default seconds to wait: generous, as a loaded CI machine needs; a pass returns early."""


def wait_until(condition: Callable[[], T], timeout: float = TIMEOUT, interval: float = 0.01) -> T:
    """Poll `condition()` until it is truthy; its value, or the test fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout:g} s")
        time.sleep(interval)
