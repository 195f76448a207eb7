"""Static checks of job source: syntax, names defined nowhere, literal command calls.

Nothing here runs user code. Lines and columns in results are 1-based (as editors show
them). Costs: one ``ast.parse``, one pass over the tree and one ``compile`` of the tree (the
compiler finds what the parser does not: ``return`` outside a function, ``break`` outside a
loop, misplaced ``nonlocal``, ...).
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field
from typing import Any

from .suggestions import nearest_name

#: Names every module has, besides the builtins.
MODULE_NAMES = frozenset(
    {"__name__", "__file__", "__doc__", "__builtins__", "__spec__", "__loader__", "__package__"}
    | {"__annotations__", "__cached__", "__path__", "__dict__", "__debug__"}
)
BUILTIN_NAMES = frozenset(dir(builtins)) | MODULE_NAMES


@dataclass
class ScriptFacts:
    """What one pass over a parsed script found.

    Attributes:
        bound: every name bound anywhere (any scope).
        loads: first use of each name read: ``{name: (line, col)}``.
        star_import: the script has ``from x import *`` (undefined names are unknowable).
        calls: candidate calls ``(name, node)`` of plain names (checked against the catalogue).
        bare_excepts: lines of ``except:`` clauses.
        compile_errors: ``(line, col, message)`` errors only the compiler would report.
        needs_compile: the script uses constructs whose rules only the compiler checks.
        imports: modules bound to a name by an import: ``{name: {"genie_python.genie"}}``
            (``from genie_python import genie as g`` may bind a module or a name).
        stored: names assigned by ``=``-like statements (not only imported).
        attributes: ``name.attr`` of a plain name, read or assigned (``ast.Attribute`` nodes).
    """

    bound: set = field(default_factory=set)
    loads: dict = field(default_factory=dict)
    star_import: bool = False
    calls: list = field(default_factory=list)
    bare_excepts: list = field(default_factory=list)
    compile_errors: list = field(default_factory=list)
    needs_compile: bool = False
    imports: dict = field(default_factory=dict)
    stored: set = field(default_factory=set)
    attributes: list = field(default_factory=list)


def error(line: int | None, col: int | None, message: str) -> dict:
    """An error record of VALIDATE:RESULT: ``{"line", "col", "message"}``."""
    return {"line": line, "col": col, "message": message}


def analyse(source: str, filename: str = "<script>") -> tuple[ScriptFacts | None, list[dict]]:
    """Parse job source, collect its facts and find its compile errors.

    The parser finds most syntax errors; the errors only the compiler finds are found by the
    walk (``return``/``yield``/``await`` outside a function, ``break``/``continue`` outside a
    loop, duplicate arguments, a bare ``except:`` that is not last) or, when the script uses
    a construct with rarer rules (``global``, ``nonlocal``, starred targets, ``__future__``,
    star imports, async code, ``match``), by compiling the tree.

    Returns:
        ``(facts, [])`` when the source compiles, else ``(None, [error])`` with the line and
        column of the first error and a message naming what is wrong and the offending text.
    """
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as exc:
        return None, [syntax_error_record(exc)]
    except (ValueError, TypeError) as exc:  # e.g. NUL bytes in the source
        return None, [error(None, None, f"the script cannot be compiled: {exc}")]
    facts = collect(tree)
    if facts.compile_errors:
        line, col, message = min(facts.compile_errors)
        text = _source_line(source, line)
        return None, [error(line, col, _located("syntax error", col, message, text))]
    if facts.needs_compile:
        try:
            compile(tree, filename, "exec", dont_inherit=True)
        except SyntaxError as exc:
            return None, [syntax_error_record(exc)]
    return facts, []


def _source_line(source: str, line: int) -> str:
    lines = source.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def syntax_error_record(exc: SyntaxError) -> dict:
    """Turn a SyntaxError into an error record with a message a person can act on.

    The line is in the record, not in the message (clients show ``line N: message``); the
    message names the column, what is wrong and the offending text.
    """
    line = exc.lineno
    col = exc.offset if exc.offset and exc.offset > 0 else None
    kind = "indentation error" if isinstance(exc, IndentationError) else "syntax error"
    return error(line, col, _located(kind, col, exc.msg, exc.text or ""))


def _located(kind: str, col: int | None, what: str, text: str) -> str:
    message = f"{kind} at column {col}: {what}" if col else f"{kind}: {what}"
    text = text.strip("\n").strip()
    return f"{message}: {text[:120]}" if text else message


_SCALAR_FIELDS = frozenset(
    {"ctx", "id", "name", "arg", "attr", "module", "level", "kind", "type_comment"}
    | {"is_async", "conversion", "n", "s", "type_ignores"}
)
_FIELDS_CACHE: dict[type, tuple[str, ...]] = {}


def _child_fields(kind: type) -> tuple[str, ...]:
    fields = _FIELDS_CACHE.get(kind)
    if fields is None:
        fields = tuple(f for f in kind._fields if f not in _SCALAR_FIELDS)
        _FIELDS_CACHE[kind] = fields
    return fields


# What collect() must look at, by node type (everything else is only walked through).
_NAME, _ARG, _CALL, _DEF, _CLASS, _IMPORT, _HANDLER, _TRY, _JUMP, _RETURN = range(10)
_MATCH, _SCOPE, _RARE_NODE, _LOOP, _LAMBDA, _ATTRIBUTE = range(10, 16)
_SPECIAL: dict[type, int] = {
    ast.Name: _NAME,
    ast.Attribute: _ATTRIBUTE,
    ast.arg: _ARG,
    ast.Call: _CALL,
    ast.FunctionDef: _DEF,
    ast.AsyncFunctionDef: _DEF,
    ast.ClassDef: _CLASS,
    ast.Import: _IMPORT,
    ast.ImportFrom: _IMPORT,
    ast.ExceptHandler: _HANDLER,
    ast.Try: _TRY,
    ast.Break: _JUMP,
    ast.Continue: _JUMP,
    ast.Return: _RETURN,
    ast.Yield: _RETURN,
    ast.YieldFrom: _RETURN,
    ast.Global: _SCOPE,
    ast.Nonlocal: _SCOPE,
    ast.For: _LOOP,
    ast.While: _LOOP,
    ast.AsyncFor: _LOOP,
    ast.Lambda: _LAMBDA,
}
for _n in ("MatchAs", "MatchStar", "MatchMapping"):
    if hasattr(ast, _n):
        _SPECIAL[getattr(ast, _n)] = _MATCH
for _n in ("Starred", "Await", "NamedExpr", "Match", "TryStar", "AsyncWith"):
    if hasattr(ast, _n):
        _SPECIAL[getattr(ast, _n)] = _RARE_NODE
_RARE_KINDS = frozenset(
    getattr(ast, n)
    for n in (
        "Global",
        "Nonlocal",
        "AsyncFunctionDef",
        "AsyncFor",
        "Yield",
        "YieldFrom",
    )
)
_MESSAGES = {
    ast.Break: "'break' outside loop",
    ast.Continue: "'continue' not properly in loop",
    ast.Return: "'return' outside function",
    ast.Yield: "'yield' outside function",
    ast.YieldFrom: "'yield' outside function",
}


def collect(tree: ast.AST) -> ScriptFacts:
    """Walk the tree once: names bound and read, calls, bare excepts and compile errors."""
    facts = ScriptFacts()
    bound = facts.bound
    loads = facts.loads
    problems = facts.compile_errors
    special = _SPECIAL
    ast_t, load_t = ast.AST, ast.Load
    # stack items: (node, inside a function, inside a loop)
    stack: list[Any] = [(tree, False, False)]
    pop, push = stack.pop, stack.append
    while stack:
        node, in_func, in_loop = pop()
        kind = type(node)
        code = special.get(kind)
        if code is not None:
            if code == _NAME:
                if type(node.ctx) is load_t:
                    position = (node.lineno, node.col_offset + 1)
                    first = loads.get(node.id)
                    if first is None or position < first:  # the walk is not in source order
                        loads[node.id] = position
                else:
                    bound.add(node.id)
                    facts.stored.add(node.id)
                continue
            if code == _ATTRIBUTE:
                if type(node.value) is ast.Name:
                    facts.attributes.append(node)
            if code == _ARG:
                bound.add(node.arg)
            elif code == _CALL:
                if type(node.func) is ast.Name:
                    facts.calls.append(node)
            elif code == _DEF or code == _LAMBDA:
                if code == _DEF:
                    bound.add(node.name)
                _check_arguments(node, problems)
                in_func, in_loop = True, False
            elif code == _CLASS:
                bound.add(node.name)
                in_func, in_loop = False, False
            elif code == _LOOP:
                for item in node.body:
                    push((item, in_func, True))
                for item in node.orelse:
                    push((item, in_func, in_loop))
                push((node.target if kind is not ast.While else node.test, in_func, in_loop))
                if kind is not ast.While:
                    push((node.iter, in_func, in_loop))
                if kind in _RARE_KINDS:
                    facts.needs_compile = True
                continue
            elif code == _IMPORT:
                for alias in node.names:
                    if alias.name == "*":
                        facts.star_import = True
                        facts.needs_compile = True
                    else:
                        local = alias.asname or alias.name.split(".")[0]
                        bound.add(local)
                        facts.imports.setdefault(local, set()).add(_imported_module(node, alias))
                if kind is ast.ImportFrom and node.module == "__future__":
                    facts.needs_compile = True
            elif code == _HANDLER:
                if node.name:
                    bound.add(node.name)
                if node.type is None:
                    facts.bare_excepts.append(node.lineno)
            elif code == _TRY:
                for handler in node.handlers[:-1]:
                    if handler.type is None:
                        problems.append(
                            (
                                handler.lineno,
                                handler.col_offset + 1,
                                "default 'except:' must be last",
                            )
                        )
            elif code == _JUMP:
                if not in_loop:
                    problems.append((node.lineno, node.col_offset + 1, _MESSAGES[kind]))
            elif code == _RETURN:
                if not in_func:
                    problems.append((node.lineno, node.col_offset + 1, _MESSAGES[kind]))
            elif code == _SCOPE:
                bound.update(node.names)
            elif code == _MATCH:
                for attr in ("name", "rest"):
                    value = getattr(node, attr, None)
                    if isinstance(value, str):
                        bound.add(value)
            if code == _RARE_NODE or kind in _RARE_KINDS:
                facts.needs_compile = True
        for name in _FIELDS_CACHE.get(kind) or _child_fields(kind):
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast_t):
                        push((item, in_func, in_loop))
            elif isinstance(value, ast_t):
                push((value, in_func, in_loop))
    return facts


def _imported_module(node: Any, alias: ast.alias) -> str:
    """The module an import binds to its local name (for ``from a import b``: ``a.b``)."""
    if type(node) is ast.Import:
        return alias.name if alias.asname else alias.name.split(".")[0]
    return "." * node.level + (f"{node.module}." if node.module else "") + alias.name


def _check_arguments(node: Any, problems: list) -> None:
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    if len(names) != len(set(names)):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                problems.append(
                    (
                        node.lineno,
                        node.col_offset + 1,
                        f"duplicate argument '{name}' in function definition",
                    )
                )
                return
            seen.add(name)


def top_level_names(source: str, filename: str = "<prelude>") -> tuple[set[str], list[str]]:
    """Names a module (the prelude) defines at top level, found without running it.

    Returns:
        ``(names, star_modules)``: names bound at module scope (including ``global``
        declarations in functions) and the modules it star-imports.

    Raises:
        SyntaxError: the source does not parse.
    """
    tree = ast.parse(source, filename)
    names: set[str] = set()
    stars: list[str] = []
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            names.update(
                n for sub in ast.walk(node) if isinstance(sub, ast.Global) for n in sub.names
            )
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp)):
            continue
        if isinstance(node, ast.GeneratorExp):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    stars.append(node.module or "")
                else:
                    names.add(alias.asname or alias.name.split(".")[0])
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        stack.extend(ast.iter_child_nodes(node))
    return names, stars


def undefined_name_warnings(facts: ScriptFacts, known: set[str] | frozenset[str]) -> list[str]:
    """One warning per name read but defined nowhere (not bound, known, or builtin).

    Returns an empty list when the script star-imports (then nothing can be said).
    """
    if facts.star_import:
        return []
    missing = [
        (pos, name)
        for name, pos in facts.loads.items()
        if name not in facts.bound and name not in known and name not in BUILTIN_NAMES
    ]
    missing.sort()
    if not missing:
        return []
    candidates = set(known) | set(facts.bound)
    return [
        f"line {line}: name '{name}' is not defined anywhere{nearest_name(name, candidates)}"
        for (line, _), name in missing
    ]


def bare_except_warnings(facts: ScriptFacts) -> list[str]:
    """Warn that ``except:`` also catches the script server's abort request."""
    return [
        f"line {line}: a bare 'except:' also catches the abort request, so a soft abort "
        "waits for the kill; write 'except Exception:'"
        for line in sorted(facts.bare_excepts)
    ]
