"""Command calls written as text or found in scripts, with literal arguments.

``parse_call`` reads what clients write (``set_ei(25, wait=False)``) with the core's parser;
``literal_command_calls`` finds the calls of catalogue commands in a script whose arguments
are all literals, so they can be bound against the catalogue before the job runs.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from scriptserver_ioc.core import specs
from scriptserver_ioc.validate.static import ScriptFacts


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

    The one parser of call text is ``core.specs.parse_call``; this gives its result, or its
    refusal as a ``CallSyntaxError`` for the validator's verdicts.

    Returns:
        ``(name, args, kwargs)`` with the literal argument values.

    Raises:
        CallSyntaxError: not a single call of a plain name with literal arguments; the
            message says what was found and what is expected.
    """
    try:
        return specs.parse_call(text)
    except specs.Rejected as exc:
        raise CallSyntaxError(str(exc), 1, None) from None
