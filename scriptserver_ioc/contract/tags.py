"""The job tags both ends read: a generated batch (`group`, `index`, `count`), a source file.

A script generator adds a batch in one write, each job tagged ``{"group": name, "index": i,
"count": n}``; the server reports the batch's progress (`STATUS.groups`) and the client shows
``T scan 3 of 10``. The rules for reading those tags live here, once.
"""

from __future__ import annotations

from typing import Any

GROUP = "group"
INDEX = "index"
COUNT = "count"
SOURCE_FILE = "source_file"
"""Tag a client sets on a script job read from a file (`add --script my_scan.py`): its name."""


def group_of(tags: Any) -> str | None:
    """The batch a job belongs to (``tags.group``), or None (absent or empty)."""
    group = tags.get(GROUP) if isinstance(tags, dict) else None
    return None if group is None or group == "" else str(group)


def whole_number(tags: Any, key: str) -> int | None:
    """``tags[key]`` when it is a whole number (booleans are not), else None."""
    value = tags.get(key) if isinstance(tags, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def declared_count(tags: Any) -> int:
    """The batch size the job declares (``tags.count``), 0 when it declares none."""
    return whole_number(tags, COUNT) or 0


def place_text(tags: Any) -> str:
    """``T scan 3 of 10`` for a job of a generated batch (group, index, count), else ''."""
    index, count = whole_number(tags, INDEX), whole_number(tags, COUNT)
    if index is None or count is None:
        return ""
    group = group_of(tags)
    return f"{group} {index} of {count}" if group else f"{index} of {count}"
