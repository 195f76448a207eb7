"""Checking the ``launch`` dict core passes to ``JobRunner.start``."""

from __future__ import annotations

from typing import Any

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "job_id": int,
    "source": str,
    "filename": str,
    "log_path": str,
}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "kind": str,
    "blackbox": bool,
    "commands": list,
    "paused": bool,
}


def check_launch(launch: Any) -> None:
    """Raise ValueError naming what is wrong with ``launch``; return if it is usable.

    Expected: ``{"job_id": int, "source": str, "filename": str, "log_path": str}`` plus
    optional ``name``, ``kind`` (str), ``blackbox`` (bool), ``commands`` (the list of
    ``Catalogue.job_commands()`` entries) and ``paused`` (bool: start paused, before the
    job's first line; ignored for black-box jobs).
    """
    if not isinstance(launch, dict):
        raise ValueError(f"launch must be a dict, got {type(launch).__name__}")
    for key, expected in _REQUIRED.items():
        if key not in launch:
            raise ValueError(f"launch lacks {key!r}; expected keys: {', '.join(_REQUIRED)}")
        _check_type(launch, key, expected)
    for key, expected in _OPTIONAL.items():
        if launch.get(key) is not None:
            _check_type(launch, key, expected)
    if isinstance(launch["job_id"], bool):
        raise ValueError("launch['job_id'] must be an int, got a bool")
    for entry in launch.get("commands") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ValueError(
                "launch['commands'] entries must be dicts with 'name', 'module', 'path' and "
                f"'kind', got {entry!r:.80}"
            )
    if not launch["log_path"].strip():
        raise ValueError("launch['log_path'] must name a file, got an empty string")


def _check_type(launch: dict, key: str, expected: type | tuple[type, ...]) -> None:
    value = launch[key]
    if not isinstance(value, expected):
        name = (
            expected.__name__
            if isinstance(expected, type)
            else "/".join(t.__name__ for t in expected)
        )
        raise ValueError(f"launch[{key!r}] must be {name}, got {value!r:.80}")
