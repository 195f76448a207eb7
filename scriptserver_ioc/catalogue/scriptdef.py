"""ISIS script definitions (`class DoRun(ScriptDefinition)`) read as catalogue commands.

A script definition file gives one command named after the file. Its parameters are those
of `DoRun.run` without `self`; the script generator sends every value as a string, so every
parameter is typed `str` and its default is `str(default)` (what the generator shows); the
signature says the same (`do_sans(position: str = '1')`), so the help never contradicts its
own parameter table. A number given for such a parameter is sent as its text.
`enum_params = ["p"]` with a nested `class p_enum(Enum)` gives the choices of `p`.
The description comes from `get_help()` when it simply returns a literal string, else from
the class docstring, else from `run`'s docstring.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

from scriptserver_ioc.catalogue.docstrings import DocInfo, help_text, parse_docstring
from scriptserver_ioc.catalogue.model import (
    FOUND_CLASS,
    KEYWORD_ONLY,
    SCRIPT_DEFINITION,
    VAR_KEYWORD,
    Command,
    Param,
)
from scriptserver_ioc.catalogue.signature import ParamNode, param_nodes, signature_text
from scriptserver_ioc.catalogue.typespec import (
    DICT,
    ENUM,
    NO_VALUE,
    STR,
    TypeSpec,
    last_name,
    literal_value,
    read_enums,
)

SCRIPT_DEFINITION_TYPE = "script_definition"
"""`type_source` of script-definition parameters: strings, whatever the annotation says."""

GLOBAL_PARAMS = "global_params"
"""The keyword-only parameter giving a definition's global parameters (a JSON object)."""


def is_script_definition(cls: ast.ClassDef) -> bool:
    """True for `class DoRun(ScriptDefinition)` (base matched by its last name)."""
    return cls.name == "DoRun" and any(last_name(b) == "ScriptDefinition" for b in cls.bases)


def read_script_definition(
    cls: ast.ClassDef, path: Path, module: str
) -> tuple[Command | None, list[dict]]:
    """The command of a script definition file, or None and an error entry."""
    methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
    run = methods.get("run")
    if run is None:
        msg = "script definition class DoRun has no run() method, so it cannot be run"
        return None, [{"file": str(path), "line": cls.lineno, "message": msg}]
    nodes = param_nodes(run.args)[1:]  # without self
    run_doc = parse_docstring(ast.get_docstring(run))
    param_docs = {**parse_docstring(ast.get_docstring(cls)).params, **run_doc.params}
    enums = _enum_params(cls)
    params = []
    for node in nodes:
        default, expression = (None, False)
        if node.default is not None:
            default, expression = _string_default(node.default)
        enum = enums.get(node.arg.arg)
        spec = TypeSpec(ENUM, "str", enum=enum) if enum else TypeSpec(STR, "str")
        pdoc = param_docs.get(node.arg.arg)
        params.append(
            Param(
                name=node.arg.arg,
                kind=node.kind,
                type="str",
                type_source=SCRIPT_DEFINITION_TYPE,
                required=node.default is None and node.kind != VAR_KEYWORD,
                has_default=node.default is not None,
                default=default,
                default_expression=expression,
                description=pdoc.description if pdoc else "",
                spec=spec,
            )
        )
    errors = _defaults_not_allowed(params, path, run.lineno, module)
    global_defaults = _global_params_defaults(cls)
    if global_defaults is not None:
        params.append(
            Param(
                name=GLOBAL_PARAMS,
                kind=KEYWORD_ONLY,
                type="dict",
                type_source=SCRIPT_DEFINITION_TYPE,
                required=False,
                has_default=True,
                default=global_defaults,
                description="global parameters of the script generator (strings); the "
                "definition's global_params_definition gives the defaults",
                spec=TypeSpec(DICT, "dict"),
            )
        )
    doc = _help(cls, methods, run_doc)
    command = Command(
        name=module,
        module=module,
        path=path,
        line=cls.lineno,
        kind=SCRIPT_DEFINITION,
        found=FOUND_CLASS,
        params=tuple(params),
        has_estimate="estimate_time" in methods,
        has_validate="parameters_valid" in methods,
        description=doc.description,
        doc=doc.doc,
        signature=signature_text(module, [_as_served(n, p) for n, p in zip(nodes, params)]),
    )
    return command, errors


def _defaults_not_allowed(params: list[Param], path: Path, line: int, module: str) -> list[dict]:
    """Errors for enum parameters whose declared default is not one of their choices.

    ScriptDefinitions' enum_example.py declares `process_status="not_working"` with choices
    ok, still_okay, definitely_not_okay: the script generator would offer a value the
    definition itself rejects.
    """
    errors = []
    for param in params:
        choices = param.spec.choice_list()
        if param.has_default and choices and param.default not in choices:
            message = (
                f"script definition '{module}': the default {param.default!r} of parameter "
                f"'{param.name}' is not one of its allowed values ({', '.join(choices)}); "
                "give it explicitly or fix the default"
            )
            errors.append({"file": str(path), "line": line, "message": message})
    return errors


def _global_params_defaults(cls: ast.ClassDef) -> dict | None:
    """`{name: str(default)}` of `global_params_definition = {name: (default, caster)}`.

    Also in `OrderedDict({...})` or `OrderedDict([(name, (default, caster)), ...])`, as
    ScriptDefinitions' example1.py and emu_default.py write it. None if there is none.
    """
    for stmt in cls.body:
        if not (
            isinstance(stmt, ast.Assign)
            and any(
                isinstance(t, ast.Name) and t.id == "global_params_definition" for t in stmt.targets
            )
        ):
            continue
        node = stmt.value
        if isinstance(node, ast.Call) and node.args:
            node = node.args[0]
        pairs: list[tuple[ast.expr, ast.expr]] = []
        if isinstance(node, ast.Dict):
            pairs = [(k, v) for k, v in zip(node.keys, node.values) if k is not None]
        elif isinstance(node, (ast.List, ast.Tuple)):
            pairs = [
                (e.elts[0], e.elts[1])
                for e in node.elts
                if isinstance(e, (ast.Tuple, ast.List)) and len(e.elts) == 2
            ]
        defaults = {}
        for key, value in pairs:
            name = literal_value(key)
            if isinstance(value, (ast.Tuple, ast.List)) and value.elts:
                value = value.elts[0]
            default = literal_value(value)
            if isinstance(name, str):
                defaults[name] = ast.unparse(value) if default is NO_VALUE else str(default)
        return defaults
    return None


def _as_served(node: ParamNode, param: Param) -> ParamNode:
    """The parameter's syntax as the server serves it: `str`, its default as a string."""
    if param.kind == VAR_KEYWORD:
        return node
    default = node.default_text
    if param.has_default and not param.default_expression:
        default = repr(param.default)
    return replace(node, annotation="str", default_text=default)


def _string_default(node: ast.expr) -> tuple[object, bool]:
    """`str(default)` as the script generator shows it; `CopyPreviousRow(x)` gives x."""
    if (
        isinstance(node, ast.Call)
        and last_name(node.func) == "CopyPreviousRow"
        and len(node.args) == 1
    ):
        node = node.args[0]
    value = literal_value(node)
    if value is NO_VALUE:
        return ast.unparse(node), True
    return str(value), False


def _enum_params(cls: ast.ClassDef) -> dict:
    """Parameter name to `EnumInfo` from `enum_params` and nested `<name>_enum` classes."""
    names: list[str] = []
    for stmt in cls.body:
        if (
            isinstance(stmt, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "enum_params" for t in stmt.targets)
            and isinstance(literal_value(stmt.value), (list, tuple))
        ):
            names = [n for n in literal_value(stmt.value) if isinstance(n, str)]  # type: ignore[union-attr]
    nested = read_enums({c.name: c for c in cls.body if isinstance(c, ast.ClassDef)})
    return {n: nested[f"{n}_enum"] for n in names if f"{n}_enum" in nested}


def _help(cls: ast.ClassDef, methods: dict, run_doc: DocInfo) -> DocInfo:
    get_help = methods.get("get_help")
    if get_help is not None:
        body = list(get_help.body)
        if ast.get_docstring(get_help) is not None:
            body = body[1:]
        if (
            len(body) == 1
            and isinstance(body[0], ast.Return)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
            and body[0].value.value.strip()
        ):
            return help_text(body[0].value.value)
    class_doc = ast.get_docstring(cls)
    if class_doc:
        return parse_docstring(class_doc)
    return run_doc
