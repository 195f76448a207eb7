"""What the top level of a command file defines, read from its syntax tree.

Its functions and classes (also inside top-level `if`/`try`/`with`), its `__all__` (a
literal list, or dynamic) and the command markers (`@usercommand`, `@helparglist`,
`f.is_usercommand`, `f.is_hidden`, `f.help_arglist`). `reader.py` turns this into
commands by the rules in its docstring.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from scriptserver_ioc.catalogue.typespec import last_name


@dataclass
class ModuleScan:
    """What the top level of a module defines, as far as the catalogue cares."""

    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    all_names: list[str] | None = None
    all_dynamic: bool = False
    marked: set[str] = field(default_factory=set)
    hidden: set[str] = field(default_factory=set)
    arglists: dict[str, str] = field(default_factory=dict)


def top_level(body: list[ast.stmt]):
    """Statements that run at module level, descending into `if`/`try`/`with` blocks."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.If, ast.With, ast.Try)) or type(stmt).__name__ == "TryStar":
            for attr in ("body", "orelse", "finalbody"):
                yield from top_level(getattr(stmt, attr, []))
            for handler in getattr(stmt, "handlers", []):
                yield from top_level(handler.body)


def scan_module(tree: ast.Module) -> ModuleScan:
    """Collect a module's top-level functions, classes, `__all__` and command markers."""
    scan = ModuleScan()
    for stmt in top_level(tree.body):
        if isinstance(stmt, ast.FunctionDef):
            scan.functions[stmt.name] = stmt
            _decorator_markers(stmt, scan)
        elif isinstance(stmt, ast.AsyncFunctionDef):
            scan.functions.pop(stmt.name, None)
        elif isinstance(stmt, ast.ClassDef):
            scan.classes[stmt.name] = stmt
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr)):
            _assignment_markers(stmt, scan)
    return scan


def _decorator_markers(fn: ast.FunctionDef, scan: ModuleScan) -> None:
    for deco in fn.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = last_name(target)
        if name == "usercommand":
            scan.marked.add(fn.name)
        elif name == "helparglist" and isinstance(deco, ast.Call) and deco.args:
            arg = deco.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                scan.arglists[fn.name] = arg.value


def _assignment_markers(stmt: ast.stmt, scan: ModuleScan) -> None:
    if isinstance(stmt, ast.Expr):  # __all__.extend([...]) / __all__.append("x")
        call = stmt.value
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "__all__"
            and call.args
        ):
            node = call.args[0]
            if call.func.attr == "append":
                node = ast.List(elts=[node], ctx=ast.Load())
            _extend_all(scan, node, replace=False)
        return
    if stmt.value is None:  # a bare annotation: `x: int`
        return
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    for target in targets:
        if isinstance(target, ast.Name) and target.id == "__all__":
            _extend_all(scan, stmt.value, replace=not isinstance(stmt, ast.AugAssign))
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            func, value = target.value.id, stmt.value
            if not isinstance(value, ast.Constant):
                continue
            if target.attr == "is_usercommand" and value.value is True:
                scan.marked.add(func)
            elif target.attr == "is_hidden" and value.value is True:
                scan.hidden.add(func)
            elif target.attr == "help_arglist" and isinstance(value.value, str):
                scan.arglists[func] = value.value


def _extend_all(scan: ModuleScan, node: ast.expr, replace: bool) -> None:
    names = None
    if isinstance(node, (ast.List, ast.Tuple)):
        elts = node.elts
        if all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in elts):
            names = [e.value for e in elts]  # type: ignore[attr-defined]
    if names is None:
        scan.all_dynamic = True
    elif replace:
        scan.all_names, scan.all_dynamic = names, False
    else:
        scan.all_names = (scan.all_names or []) + names
