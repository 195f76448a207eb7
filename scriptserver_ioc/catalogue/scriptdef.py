"""ISIS script definitions (`class DoRun(ScriptDefinition)`) read as catalogue commands.

A script definition file gives one command named after the file. Its parameters are those
of `DoRun.run` without `self`; the script generator sends every value as a string, so every
parameter is typed `str` and its default is `str(default)` (what the generator shows).
`enum_params = ["p"]` with a nested `class p_enum(Enum)` gives the choices of `p`.
The description comes from `get_help()` when it simply returns a literal string, else from
the class docstring, else from `run`'s docstring.
"""

from __future__ import annotations

import ast
from pathlib import Path

from scriptserver_ioc.catalogue.docstrings import DocInfo, help_text, parse_docstring
from scriptserver_ioc.catalogue.model import (
    FOUND_CLASS,
    SCRIPT_DEFINITION,
    VAR_KEYWORD,
    Command,
    Param,
)
from scriptserver_ioc.catalogue.signature import param_nodes, signature_text
from scriptserver_ioc.catalogue.typespec import (
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
        signature=signature_text(module, nodes),
    )
    return command, []


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
