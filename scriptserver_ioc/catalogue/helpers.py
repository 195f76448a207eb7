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
4. it always reads the console with `input()` (`get_input` in
   technique/muon/muon_begin_end.py): a job has no console, so it could never run as a
   command. A function whose `input()` is conditional (under an `if`, in a loop that may
   not run: `alert_on_error(msg, prompt_user)` in general/utilities/io.py asks only when
   `prompt_user` is true) is a command: scripts call it with the branch off.

A file that lists a helper in `__all__` or marks it `@usercommand` serves it all the same,
and so does a package that re-exports it (`packages.reexported_commands`): by name, whatever
the reason (`specific_spectra`, a factory instrument/*/__init__.py re-export for scans), or
by a star import, when the only reason is rule 3 (the larmor `sleep`, which users get from
`from instrument.larmor import *`).
"""

from __future__ import annotations

import ast

from scriptserver_ioc.catalogue.typespec import last_name

DECORATOR = "used as a decorator"
FACTORY = "returns a function it defines (a decorator or factory)"
CONSOLE = "always reads the console with input(), which a job does not have"
SET_UP = "called while the module is imported (set-up code)"
CLASS_HELPER = "a helper of a class of the file"


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
            reasons[name] = DECORATOR
            continue
        if _is_factory(functions[name]):
            reasons[name] = FACTORY
        elif _always_reads_console(functions[name]):
            reasons[name] = CONSOLE
    for name in _called_in(_module_code(statements), public):
        reasons.setdefault(name, SET_UP)
    for name in _called_in(list(classes.values()), public):
        reasons.setdefault(name, CLASS_HELPER)
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


def _is_factory(fn: ast.FunctionDef) -> bool:
    """True if `fn` returns a lambda or a function (or class) it defines inside."""
    inner: set[str] = set()
    returned: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node is not fn:
                inner.add(node.name)
        elif isinstance(node, ast.Return) and node.value is not None:
            if isinstance(node.value, ast.Lambda):
                return True
            if isinstance(node.value, ast.Name):
                returned.add(node.value.id)
    return bool(inner & returned)


def _always_reads_console(fn: ast.FunctionDef) -> bool:
    """True if `fn` calls `input()` on a path every call takes.

    Code under an `if`/`match`, in a loop body (except `while True:`), in an `except`
    handler, after `and`/`or` or in a conditional expression may not run; nested
    functions and lambdas run only if called.
    """
    return any(_reads_console(stmt) for stmt in fn.body)


def _reads_console(node: ast.AST) -> bool:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "input":
        return True
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
        return False
    if isinstance(node, (ast.If, ast.IfExp)):
        return _reads_console(node.test)
    if isinstance(node, ast.While):
        body = node.body if _constant_true(node.test) else []
        return _reads_console(node.test) or any(_reads_console(n) for n in body)
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return _reads_console(node.iter)
    if isinstance(node, ast.BoolOp):
        return _reads_console(node.values[0])
    if isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
        parts = node.body + node.finalbody  # type: ignore[attr-defined]
        return any(_reads_console(n) for n in parts)
    if type(node).__name__ == "Match":
        return _reads_console(node.subject)  # type: ignore[attr-defined]
    return any(_reads_console(child) for child in ast.iter_child_nodes(node))


def _constant_true(test: ast.expr) -> bool:
    return isinstance(test, ast.Constant) and bool(test.value)
