"""Defaults that are literals, expressions, enum members and non-JSON values."""

import time
from enum import Enum


class Mode(Enum):
    """Speed mode."""

    FAST = "fast"
    SLOW = "slow"


def with_defaults(
    timeout: float = 60 * 5,
    when=time.time(),
    pair: tuple = (1, 2),
    negative: float = -1.5,
    infinite: float = float("inf"),
    nan_literal=1e999,
    mode: Mode = Mode.FAST,
    table: dict = {"a": 1},  # noqa: B006
    nothing=None,
    text: str = "Å",
    flags=frozenset(),
    data=b"raw",
):
    """Every kind of default."""
