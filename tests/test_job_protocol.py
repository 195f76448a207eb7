"""The job-channel message types live in one module, `job/_protocol.py` (issue #8, item 7).

Both ends (job/*.py, runner/*.py) must build and dispatch channel messages with its
constants, never with the wire strings written out, so no end can drift from the other.
Runner -> core events (``emit(...)``) are a different interface and are not checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from scriptserver_ioc.job import _protocol as protocol

PACKAGE = Path(protocol.__file__).resolve().parent.parent
SOURCES = sorted((PACKAGE / "job").glob("*.py")) + sorted((PACKAGE / "runner").glob("*.py"))
CONSTANTS = {
    name: value
    for name, value in vars(protocol).items()
    if name.isupper() and isinstance(value, str)
}
WIRE_TYPES = set(CONSTANTS.values())
SENDERS = {"send", "send_control", "encode", "_report"}
"""Calls whose argument is a channel message (``_report`` is the script editor's send)."""
EVENTS = {"emit"}
"""Calls whose argument is a runner -> core event, not a channel message."""


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _is_constant(node: ast.AST) -> bool:
    """``protocol.NAME`` with NAME a message type of `_protocol`."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "protocol"
        and node.attr in CONSTANTS
    )


def _wire_literals(node: ast.AST) -> list[str]:
    return [
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in WIRE_TYPES
    ]


def _is_kind(node: ast.AST) -> bool:
    """A message's kind: a variable ``kind`` or ``<message>.get("type")``."""
    if isinstance(node, ast.Name):
        return node.id == "kind"
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value == "type"
    )


def _type_values(node: ast.AST) -> list[ast.AST]:
    """The "type" values of a message built by ``node``: a dict literal or ``dict(..., type=)``."""
    if isinstance(node, ast.Dict):
        return [
            value
            for key, value in zip(node.keys, node.values)
            if isinstance(key, ast.Constant) and key.value == "type"
        ]
    if isinstance(node, ast.Call) and _call_name(node) == "dict":
        return [kw.value for kw in node.keywords if kw.arg == "type"]
    return []


def problems(path: Path, root: Path = PACKAGE) -> list[str]:
    """Where ``path`` writes a wire message type as a string instead of a constant."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    events = {
        id(inner)
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and _call_name(call) in EVENTS
        for arg in call.args
        for inner in ast.walk(arg)
    }
    found = []

    def report(node: ast.AST, what: str) -> None:
        found.append(f"{path.relative_to(root)}:{node.lineno}: {what}")

    for node in ast.walk(tree):
        if id(node) in events:
            continue
        # a message built anywhere (a dict literal with "type", dict(type=...))
        for value in _type_values(node):
            for text in _wire_literals(value):
                report(value, f'message type "{text}" written out; use protocol constants')
        # what is sent must carry a constant as its type
        if isinstance(node, ast.Call) and _call_name(node) in SENDERS:
            for arg in node.args:
                for value in _type_values(arg):
                    if not _is_constant(value):
                        report(value, "a sent message's type is not a protocol constant")
        # a message kind compared with anything but a constant
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_kind(side) for side in sides):
                for side in sides:
                    if _is_kind(side) or _is_constant(side):
                        continue
                    if isinstance(side, ast.Tuple | ast.List | ast.Set) and all(
                        _is_constant(e) for e in side.elts
                    ):
                        continue
                    if isinstance(side, ast.Name) and side.id.isupper():  # _protocol itself
                        continue
                    report(side, "a message kind compared with something not a constant")
    return found


def test_sources_found():
    names = {path.name for path in SOURCES}
    assert {"launcher.py", "channel.py", "_control.py", "script_edit.py"} <= names
    assert {"job.py", "runner.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_message_types_are_constants(path):
    assert problems(path) == []


def test_message_types_are_unique():
    values = list(CONSTANTS.values())
    assert len(values) == len(set(values)), CONSTANTS


def test_known_message_types():
    """Renaming a wire string breaks a job adopted from an older server."""
    assert CONSTANTS == {
        "HELLO": "hello",
        "WELCOME": "welcome",
        "EXIT": "exit",
        "REJECTED": "rejected",
        "READY": "ready",
        "RUNNING": "running",
        "LINE": "line",
        "PROGRESS": "progress",
        "MESSAGE": "message",
        "PAUSED": "paused",
        "RESUMED": "resumed",
        "PLOT": "plot",
        "ENGINE": "engine",
        "EDIT_RECEIVED": "edit_received",
        "EDITED": "edited",
        "DONE": "done",
        "FORK": "fork",
        "FORKED": "forked",
        "FORK_FAILED": "fork_failed",
        "EXITED": "exited",
        "RUN": "run",
        "PAUSE": "pause",
        "RESUME": "resume",
        "ABORT": "abort",
        "EDIT": "edit",
    }
    assert protocol.PROTOCOL_VERSION == 1


def test_checker_catches_literals(tmp_path):
    """The check itself: each shape of a written-out type is found, constants and events pass."""
    bad = tmp_path / "job" / "bad.py"
    bad.parent.mkdir()
    bad.write_text(
        "def f(link, jp, kind, message, result):\n"
        '    link.send({"type": "paused", "line": 1})\n'
        '    jp.send_control({"type": "pause"})\n'
        '    link.send(dict(result, type="done"))\n'
        '    hello = {"type": "hello"}\n'
        '    if kind == "run":\n'
        "        pass\n"
        '    if message.get("type") != "welcome":\n'
        "        pass\n"
        '    if kind in ("line", protocol.LINE):\n'
        "        pass\n"
        "    link.send({'type': kind})\n"
        "    link.send({'type': protocol.PAUSED})\n"
        '    jp.emit({"type": "paused", "line": 1})\n'
        "    if kind == protocol.RUN:\n"
        "        pass\n",
        encoding="utf-8",
    )
    lines = {int(problem.split(":")[1]) for problem in problems(bad, tmp_path)}
    assert sorted(lines) == [2, 3, 4, 5, 6, 8, 10, 12]
