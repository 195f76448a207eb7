"""The companion checker's operations are constants of one module used by both ends."""

from __future__ import annotations

import ast
from pathlib import Path

from scriptserver_ioc.job import _checker_protocol as ops

PACKAGE = Path(__file__).resolve().parent.parent / "scriptserver_ioc"
SENDERS = [
    PACKAGE / "validate" / "companions.py",
    PACKAGE / "validate" / "batch.py",
    PACKAGE / "catalogue" / "describe_batch.py",
]
CHECKER = PACKAGE / "job" / "checker.py"


def _literal_ops(path: Path) -> list[str]:
    """`"op": "<text>"` in a dict literal, or `op == "<text>"`: where a constant belongs."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "op":
                    if isinstance(value, ast.Constant):
                        found.append(f"{path.name}:{node.lineno}: {value.value!r}")
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Name):
            if node.left.id == "op" and any(isinstance(c, ast.Constant) for c in node.comparators):
                found.append(f"{path.name}:{node.lineno}: op compared with a literal")
    return found


def _dispatched(path: Path) -> set[str]:
    """The constants the checker compares `op` with (`op == ops.NAME`)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name):
            for side in node.comparators:
                if isinstance(side, ast.Attribute) and node.left.id == "op":
                    names.add(getattr(ops, side.attr))
    return names


def test_GIVEN_both_ends_WHEN_read_THEN_no_operation_written_as_a_literal():
    found = [hit for path in [*SENDERS, CHECKER] for hit in _literal_ops(path)]
    assert found == []


def test_GIVEN_checker_WHEN_read_THEN_every_operation_dispatched_once():
    assert len(set(ops.OPERATIONS)) == len(ops.OPERATIONS)
    assert _dispatched(CHECKER) == set(ops.OPERATIONS)


def test_GIVEN_a_literal_op_WHEN_checked_THEN_found(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('send({"id": 1, "op": "check"})\nif op == "load":\n    pass\n')
    assert len(_literal_ops(bad)) == 2
