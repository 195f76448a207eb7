"""Command calls written as text or found in scripts, with literal arguments.

``parse_call`` reads what clients write (``set_ei(25, wait=False)``);
``literal_command_calls`` finds the calls of catalogue commands in a script whose arguments
are all literals, so they can be bound against the catalogue before the job runs.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from scriptserver_ioc.validate.static import ScriptFacts, syntax_error_record


class CallSyntaxError(ValueError):
    """A command call written as text is not ``name(literal, key=literal, ...)``."""

    def __init__(self, message: str, line: int | None = None, col: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.col = col


@dataclass
class CommandCall:
    """A call of a catalogue command with literal arguments found in a script."""

    name: str
    line: int
    col: int
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)


def literal_command_calls(facts: ScriptFacts, commands: set[str] | frozenset[str]) -> list:
    """Calls of catalogue commands whose arguments are all literals (checkable statically).

    Calls of a command name the script rebinds itself are skipped, as are calls with
    ``*args``/``**kwargs`` or any non-literal argument.
    """
    found = []
    for node in facts.calls:
        name = node.func.id
        if name not in commands or name in facts.bound:
            continue
        try:
            args = [_literal(a) for a in node.args]
            kwargs = {}
            for kw in node.keywords:
                if kw.arg is None:
                    raise ValueError("**kwargs")
                kwargs[kw.arg] = _literal(kw.value)
        except ValueError:
            continue
        found.append(CommandCall(name, node.lineno, node.col_offset + 1, args, kwargs))
    found.sort(key=lambda c: (c.line, c.col))
    return found


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Starred):
        raise ValueError("*args")
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ValueError("not a literal") from None


def parse_call(text: str) -> tuple[str, list, dict]:
    """Parse a command call written as text, e.g. ``set_ei(25, wait=False)``.

    Returns:
        ``(name, args, kwargs)`` with the literal argument values.

    Raises:
        CallSyntaxError: not a single call of a plain name with literal arguments; the
            message says what was found and what is expected.
    """
    expected = "expected a call like set_ei(25) or set_ei(energy=25) with literal arguments"
    try:
        tree = ast.parse(text.strip(), "<call>", mode="eval")
    except SyntaxError as exc:
        record = syntax_error_record(exc)
        raise CallSyntaxError(
            f"{record['message']}; {expected}", exc.lineno, record["col"]
        ) from None
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise CallSyntaxError(f"{text.strip()[:80]!r} is not a command call; {expected}", 1, 1)
    args: list = []
    kwargs: dict = {}
    for node in list(call.args) + [kw.value for kw in call.keywords]:
        if isinstance(node, ast.Starred) or not _is_literal(node):
            segment = ast.get_source_segment(text.strip(), node) or "?"
            raise CallSyntaxError(
                f"argument {segment[:60]!r} of {call.func.id}() is not a literal "
                "(numbers, strings, booleans, None, lists, dicts); " + expected,
                1,
                node.col_offset + 1,
            )
    for kw in call.keywords:
        if kw.arg is None:
            raise CallSyntaxError(f"**kwargs is not accepted; {expected}", 1, kw.col_offset + 1)
    args = [ast.literal_eval(a) for a in call.args]
    kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    return call.func.id, args, kwargs


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True
