"""Annotations of every kind the binder knows."""

import typing
from enum import Enum, IntEnum, auto
from typing import Any, Dict, List, Literal, Optional, Tuple, Union


class Colour(Enum):
    """Colours."""

    RED = 1
    GREEN = 2
    BLUE = auto()


class Level(IntEnum):
    """Levels."""

    LOW = 0
    HIGH = 10


class Shade(Colour):
    """An enum derived from an enum of the same file (no members of its own)."""


class Sample:
    """Not an enum."""


def typed(
    i: int,
    f: float,
    s: str,
    b: bool,
    colour: Colour,
    level: Level,
    choice: Literal["linear", "log"],
    numbers: Literal[1, 2, 3],
    floats: List[float],
    ints: list[int],
    maybe: Optional[int],
    pipe: int | None,
    either: Union[int, str],
    mapping: Dict[str, int],
    anything: Any,
    sample: Sample,
    quoted: "float",
    qualified: typing.Optional[float],
    colours: List[Colour],
    many: Tuple[float, ...],
    untyped,
):
    """Every annotation."""
