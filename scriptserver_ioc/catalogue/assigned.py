"""Commands a file makes by assignment or import, found in its syntax tree.

Real instruments publish many user commands as module-level names that are not `def`s
(InstrumentScripts: `scan = local_wrapper(_lm, "scan")` in instrument/larmor/scans.py,
`locals()[method] = local_wrapper(obj, method)` in instrument/larmor/sans.py,
`run_angle = RunActions.run_angle` in technique/reflectometry/__init__.py, re-exports in
instrument/*/__init__.py). This module sorts such names into:

- resolved here: an alias of a function of the file (`go = move`), of a method of a class of
  the file through an instance or the class (`scan = _inst.scan`, `a = Cls.method`), and
  `functools.partial(f, ...)` of a function of the file;
- re-exports: names imported from other modules (`from .sans import do_sans`, `from .x
  import *`), resolved by the catalogue against the command directories; names imported from
  anywhere else (the standard library, genie_python) are never commands;
- live: any other public name assigned from a call or an attribute (`scan =
  local_wrapper(...)`, `do_x = decorator(f)`), and every name a file makes in code
  (`locals()[name] = ...`, `globals().update(...)`); only the checker process, which imports
  the module, can tell whether it is a function and what its signature is.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from scriptserver_ioc.catalogue.typespec import last_name

PARTIAL_NAMES = {"partial"}


@dataclass(frozen=True)
class Alias:
    """`name` is function `target` of the file, or method `method` of class `cls`."""

    name: str
    line: int
    target: str | None = None
    cls: str | None = None
    method: str | None = None
    bound: bool = False  # through an instance or a classmethod: the first parameter goes
    partial_args: int = 0
    partial_keywords: tuple[tuple[str, str], ...] = ()  # (parameter, source text)
    partial: bool = False


@dataclass(frozen=True)
class ReExport:
    """`from <module> import <source> as <name>` (`source` "*" for a star import)."""

    name: str
    module: str
    level: int
    source: str
    line: int


@dataclass
class Assignments:
    """What a module binds at its top level besides `def` and `class`."""

    aliases: list[Alias] = field(default_factory=list)
    reexports: list[ReExport] = field(default_factory=list)
    live: dict[str, int] = field(default_factory=dict)  # name -> line
    live_aliases: set[str] = field(default_factory=set)  # live names assigned without a call
    generated: bool = False
    imported: set[str] = field(default_factory=set)


def read_assignments(statements, functions: dict, classes: dict) -> Assignments:
    """Sort the top-level assignments and imports of a module (see the module docstring).

    Args:
        statements: the module's top-level statements (with `if`/`try`/`with` bodies).
        functions: its top-level functions by name.
        classes: its top-level classes by name.
    """
    found = Assignments()
    instances: dict[str, str] = {}  # variable -> class of the file it holds an instance of
    for stmt in statements:
        if isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                name = alias.asname or alias.name
                found.imported.add(name)
                found.reexports.append(
                    ReExport(name, stmt.module or "", stmt.level, alias.name, stmt.lineno)
                )
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                found.imported.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(stmt, (ast.For, ast.While)) and _makes_names(stmt):
            found.generated = True
        elif isinstance(stmt, ast.Expr) and _makes_names(stmt):
            found.generated = True
        elif isinstance(stmt, ast.Assign):
            if any(_is_namespace_subscript(t) for t in stmt.targets):
                found.generated = True
                continue
            names = [t.id for t in stmt.targets if isinstance(t, ast.Name)]
            value = stmt.value
            cls = _instantiated_class(value, classes)
            for name in names:
                found.live.pop(name, None)
                found.live_aliases.discard(name)
                found.aliases = [a for a in found.aliases if a.name != name]
                instances.pop(name, None)
                if cls is not None:
                    instances[name] = cls
                    continue
                alias = _alias(name, value, stmt.lineno, functions, classes, instances)
                if alias is not None:
                    found.aliases.append(alias)
                elif not name.startswith("_") and isinstance(
                    value, (ast.Call, ast.Attribute, ast.Name)
                ):
                    found.live[name] = stmt.lineno
                    if not isinstance(value, ast.Call):
                        found.live_aliases.add(name)
    return found


def _makes_names(stmt: ast.stmt) -> bool:
    """A loop or call that creates module names in code: `locals()[n] = ...` and kin."""
    for node in ast.walk(stmt):
        if isinstance(node, ast.Subscript) and _is_namespace_subscript(node):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if (
                node.func.attr in ("update", "__setitem__", "setdefault")
                and isinstance(owner, ast.Call)
                and last_name(owner.func) in ("locals", "globals", "vars")
            ):
                return True
        if isinstance(node, ast.Call) and last_name(node.func) == "setattr" and node.args:
            text = ast.unparse(node.args[0])
            if "sys.modules[__name__]" in text:
                return True
    return False


def _is_namespace_subscript(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Call)
        and last_name(node.value.func) in ("locals", "globals", "vars")
        and isinstance(node.ctx, ast.Store)
    )


def _instantiated_class(value: ast.expr, classes: dict) -> str | None:
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        if value.func.id in classes:
            return value.func.id
    return None


def _alias(name, value, line, functions, classes, instances) -> Alias | None:
    if isinstance(value, ast.Name) and value.id in functions:
        return Alias(name, line, target=value.id)
    if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name):
        owner, method = value.value.id, value.attr
        if owner in instances:
            cls = instances[owner]
            kind = method_kind(classes, cls, method)
            if kind is not None:
                return Alias(name, line, cls=cls, method=method, bound=kind != "static")
        elif owner in classes:
            kind = method_kind(classes, owner, method)
            if kind in ("static", "class"):
                return Alias(name, line, cls=owner, method=method, bound=kind == "class")
    if (
        isinstance(value, ast.Call)
        and last_name(value.func) in PARTIAL_NAMES
        and value.args
        and isinstance(value.args[0], ast.Name)
        and value.args[0].id in functions
        and not any(isinstance(a, ast.Starred) for a in value.args)
        and all(k.arg is not None for k in value.keywords)
    ):
        return Alias(
            name,
            line,
            target=value.args[0].id,
            partial=True,
            partial_args=len(value.args) - 1,
            partial_keywords=tuple((k.arg, ast.unparse(k.value)) for k in value.keywords),  # type: ignore[misc]
        )
    return None


def find_method(classes: dict, cls: str, method: str, seen=None) -> ast.FunctionDef | None:
    """The `def` of `method` in class `cls` of the file or in its bases of the file."""
    seen = seen or set()
    node = classes.get(cls)
    if node is None or cls in seen:
        return None
    seen.add(cls)
    for stmt in node.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == method:
            return stmt
    for base in node.bases:
        if isinstance(base, ast.Name):
            found = find_method(classes, base.id, method, seen)
            if found is not None:
                return found
    return None


def method_kind(classes: dict, cls: str, method: str) -> str | None:
    """`static`, `class` or `instance` for a method found in the file, else None."""
    fn = find_method(classes, cls, method)
    if fn is None:
        return None
    names = {last_name(d) for d in fn.decorator_list}
    if "staticmethod" in names:
        return "static"
    if "classmethod" in names:
        return "class"
    if "property" in names:
        return None
    return "instance"
