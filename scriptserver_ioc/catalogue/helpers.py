"""Which public functions of a command file are helpers rather than instrument commands.

Instrument files mix the commands users type with the utilities those commands use. When a
file does not say which are its commands (no literal `__all__`, no `@usercommand`), a
public top-level function is a helper, not a command, if

1. it is a decorator or a function factory: used as a decorator in the file (`@dae_setter(...)`,
   technique/sans/util.py in InstrumentScripts), or it returns a function it defines inside
   (`local_wrapper` in general/scans/util.py, `generic_pol` in instrument/larmor/scans.py);
2. the module calls it while being imported (set-up code: `get_user_dir()` at the end of
   instrument/larmor/scans.py);
3. a class of the file calls it: it is that class's helper (`merge_dicts`, `get_input`,
   `estimate` in general/scans/scans.py, the `sleep` override in instrument/larmor/sans.py);
4. it reads the console with `input()` (`get_input` in technique/muon/muon_begin_end.py):
   a job has no console, so it could never run as a command.

A file that lists a helper in `__all__` or marks it `@usercommand` serves it all the same.
"""

from __future__ import annotations

import ast

from scriptserver_ioc.catalogue.typespec import last_name


def helper_functions(
    statements: list[ast.stmt], functions: dict[str, ast.FunctionDef], classes: dict
) -> dict[str, str]:
    """Public functions of a module that are helpers, with the reason (see module docstring)."""
    public = {n for n in functions if not n.startswith("_")}
    reasons: dict[str, str] = {}
    decorator_names = set()
    for node in [*functions.values(), *classes.values(), *_class_methods(classes)]:
        for deco in node.decorator_list:
            name = last_name(deco.func if isinstance(deco, ast.Call) else deco)
            decorator_names.add(name)
    for name in public:
        if name in decorator_names:
            reasons[name] = "used as a decorator"
            continue
        factory, console = _function_traits(functions[name])
        if factory:
            reasons[name] = "returns a function it defines (a decorator or factory)"
        elif console:
            reasons[name] = "reads the console with input(), which a job does not have"
    for name in _called_in(_module_code(statements), public):
        reasons.setdefault(name, "called while the module is imported (set-up code)")
    for name in _called_in(list(classes.values()), public):
        reasons.setdefault(name, "a helper of a class of the file")
    return reasons


def _class_methods(classes: dict) -> list[ast.FunctionDef]:
    return [
        stmt
        for cls in classes.values()
        for stmt in cls.body
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def _module_code(statements: list[ast.stmt]) -> list[ast.stmt]:
    """Top-level statements that run at import, without function and class bodies.

    `statements` is the module body; `if`/`try`/`with` blocks are entered, except the body
    of `if __name__ == "__main__":`, which does not run on import.
    """
    code: list[ast.stmt] = []
    for stmt in statements:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(stmt, ast.If):
            code.append(stmt.test)  # type: ignore[arg-type]
            if not _main_guard(stmt.test):
                code += _module_code(stmt.body)
            code += _module_code(stmt.orelse)
        elif isinstance(stmt, (ast.Try, ast.With)) or type(stmt).__name__ == "TryStar":
            for attr in ("body", "orelse", "finalbody"):
                code += _module_code(getattr(stmt, attr, []))
            for handler in getattr(stmt, "handlers", []):
                code += _module_code(handler.body)
            code += getattr(stmt, "items", [])
        else:
            code.append(stmt)
    return code


def _main_guard(test: ast.expr) -> bool:
    return "__name__" in ast.unparse(test) and "__main__" in ast.unparse(test)


def _called_in(nodes: list[ast.AST], names: set[str]) -> set[str]:
    called = set()
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id in names:
                    called.add(node.func.id)
    return called


def _function_traits(fn: ast.FunctionDef) -> tuple[bool, bool]:
    """(returns a function it defines or a lambda, calls `input()`), in one walk."""
    inner: set[str] = set()
    returned: set[str] = set()
    factory = console = False
    for node in ast.walk(fn):
        kind = type(node)
        if kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef) and node is not fn:
            inner.add(node.name)  # type: ignore[attr-defined]
        elif kind is ast.Return and node.value is not None:  # type: ignore[attr-defined]
            value = node.value  # type: ignore[attr-defined]
            if isinstance(value, ast.Lambda):
                factory = True
            elif isinstance(value, ast.Name):
                returned.add(value.id)
        elif kind is ast.Call and isinstance(node.func, ast.Name):  # type: ignore[attr-defined]
            console = console or node.func.id == "input"  # type: ignore[attr-defined]
    return factory or bool(inner & returned), console
