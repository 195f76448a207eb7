"""Parameters and signature text of a `def`, taken from its syntax tree."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from scriptserver_ioc.catalogue.docstrings import DocInfo
from scriptserver_ioc.catalogue.model import (
    KEYWORD_ONLY,
    POSITIONAL_ONLY,
    POSITIONAL_OR_KEYWORD,
    VAR_KEYWORD,
    VAR_POSITIONAL,
    Param,
)
from scriptserver_ioc.catalogue.typespec import (
    ENUM,
    NO_VALUE,
    EnumInfo,
    TypeSpec,
    expr_text,
    json_safe,
    last_name,
    literal_value,
    type_from_annotation,
)


@dataclass(frozen=True)
class ParamNode:
    """One parameter of a `def` as syntax: the `ast.arg`, its default node and its kind.

    `annotation` and `default_text` are the source texts (None when absent), computed once.
    """

    arg: ast.arg
    default: ast.expr | None
    kind: str
    annotation: str | None = None
    default_text: str | None = None

    @classmethod
    def of(cls, arg: ast.arg, default: ast.expr | None, kind: str) -> ParamNode:
        """A `ParamNode` with its texts filled in."""
        annotation = annotation_text(arg.annotation) if arg.annotation is not None else None
        default_text = expr_text(default) if default is not None else None
        return cls(arg, default, kind, annotation, default_text)


def param_nodes(args: ast.arguments) -> list[ParamNode]:
    """The parameters of a `def` in order, each with its default node (or None)."""
    positional = list(args.posonlyargs) + list(args.args)
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)
    nodes = []
    for i, (arg, default) in enumerate(zip(positional, defaults)):
        kind = POSITIONAL_ONLY if i < len(args.posonlyargs) else POSITIONAL_OR_KEYWORD
        nodes.append(ParamNode.of(arg, default, kind))
    if args.vararg is not None:
        nodes.append(ParamNode.of(args.vararg, None, VAR_POSITIONAL))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        nodes.append(ParamNode.of(arg, default, KEYWORD_ONLY))
    if args.kwarg is not None:
        nodes.append(ParamNode.of(args.kwarg, None, VAR_KEYWORD))
    return nodes


def signature_text(name: str, nodes: list[ParamNode]) -> str:
    """`name(a: int, /, b: float = 1.0, *args, c, **kwargs)` in PEP 8 spacing."""
    parts: list[str] = []
    last_posonly = max((i for i, n in enumerate(nodes) if n.kind == POSITIONAL_ONLY), default=-1)
    star_written = False
    for i, node in enumerate(nodes):
        if node.kind == KEYWORD_ONLY and not star_written:
            parts.append("*")
            star_written = True
        prefix = {VAR_POSITIONAL: "*", VAR_KEYWORD: "**"}.get(node.kind, "")
        star_written = star_written or node.kind == VAR_POSITIONAL
        text = prefix + node.arg.arg
        if node.annotation is not None:
            text += ": " + node.annotation
        if node.default_text is not None:
            text += (" = " if node.annotation is not None else "=") + node.default_text
        parts.append(text)
        if i == last_posonly:
            parts.append("/")
    return f"{name}({', '.join(parts)})"


def annotation_text(node: ast.expr) -> str:
    """The annotation as text; a string annotation without its quotes."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return expr_text(node)


def find_enum(spec: TypeSpec) -> EnumInfo | None:
    """The enum a type refers to, directly or as its list item / optional member."""
    if spec.kind == ENUM:
        return spec.enum
    for arg in spec.args:
        found = find_enum(arg)
        if found is not None:
            return found
    return None


def default_of(node: ast.expr, spec: TypeSpec, text: str | None = None) -> tuple[object, bool]:
    """A default as (JSON value, False) or, if it is an expression, (source text, True).

    `Colour.RED` for an enum parameter is the member name `"RED"`, as bound values are.
    """
    value = json_safe(literal_value(node))
    if value is not NO_VALUE:
        return value, False
    enum = find_enum(spec)
    if (
        enum is not None
        and isinstance(node, ast.Attribute)
        and last_name(node.value) == enum.name
        and node.attr in enum.names
    ):
        return node.attr, False
    return (text if text is not None else expr_text(node)), True


def build_params(
    nodes: list[ParamNode], enums: dict[str, EnumInfo], doc: DocInfo
) -> tuple[Param, ...]:
    """`Param` records of a command function from its parameter nodes and docstring."""
    params = []
    for node in nodes:
        spec = type_from_annotation(node.arg.annotation, enums, node.annotation)
        pdoc = doc.params.get(node.arg.arg)
        if node.annotation is not None:
            type_text, type_source = node.annotation, "annotation"
        elif pdoc is not None and pdoc.type_name:
            type_text, type_source = pdoc.type_name, "docstring"
        else:
            type_text, type_source = None, None
        default, expression = (None, False)
        if node.default is not None:
            default, expression = default_of(node.default, spec, node.default_text)
        variadic = node.kind in (VAR_POSITIONAL, VAR_KEYWORD)
        params.append(
            Param(
                name=node.arg.arg,
                kind=node.kind,
                type=type_text,
                type_source=type_source,
                required=node.default is None and not variadic,
                has_default=node.default is not None,
                default=default,
                default_expression=expression,
                description=pdoc.description if pdoc else "",
                spec=spec,
            )
        )
    return tuple(params)


def is_generator(fn: ast.FunctionDef) -> bool:
    """True if `fn` is a generator function (a `yield` of its own, not of a nested scope)."""
    nested = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
    pending = list(fn.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            return True
        if not isinstance(node, nested):
            pending.extend(ast.iter_child_nodes(node))
    return False
