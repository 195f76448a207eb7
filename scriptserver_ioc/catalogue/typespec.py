"""Parameter types read from annotations in the syntax tree, without importing anything.

A `TypeSpec` says how `binding` coerces a value sent by a client. Names are matched by their
last component (`typing.List` and `List` are the same), because the reader cannot resolve
imports. Anything it does not understand becomes `any` (values pass through unchanged).
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field

ANY = "any"
INT = "int"
FLOAT = "float"
STR = "str"
BOOL = "bool"
NONE = "none"
ENUM = "enum"
LITERAL = "literal"
LIST = "list"
DICT = "dict"
UNION = "union"

_SCALARS = {"int": INT, "float": FLOAT, "str": STR, "bool": BOOL}
_LIST_NAMES = {"list", "List", "Sequence", "MutableSequence", "Iterable", "Collection"}
_TUPLE_NAMES = {"tuple", "Tuple"}
_DICT_NAMES = {"dict", "Dict", "Mapping", "MutableMapping"}
_ANY_NAMES = {"Any", "object"}
ENUM_BASES = {"Enum", "IntEnum", "StrEnum", "Flag", "IntFlag"}

NO_VALUE = object()
"""Marks an enum member whose value is not a literal (e.g. `auto()`)."""


@dataclass(frozen=True)
class EnumInfo:
    """An `Enum` subclass defined in a command file: its name and members in order."""

    name: str
    members: tuple[tuple[str, object], ...]  # (member name, literal value or NO_VALUE)

    @property
    def names(self) -> list[str]:
        """Member names in definition order."""
        return [m for m, _ in self.members]


@dataclass(frozen=True)
class TypeSpec:
    """How a parameter's values are checked and converted.

    Attributes:
        kind: one of the module constants (`INT`, `LIST`, ...).
        text: the annotation as written (normalised by `ast.unparse`), used in messages.
        args: item type for `LIST`, member types for `UNION`.
        choices: allowed values for `LITERAL`.
        enum: the enum for `ENUM`.
    """

    kind: str
    text: str
    args: tuple[TypeSpec, ...] = ()
    choices: tuple[object, ...] = ()
    enum: EnumInfo | None = field(default=None)

    def choice_list(self) -> list[object] | None:
        """The values a client may pick from (enum names or literal choices), or None."""
        if self.kind == ENUM and self.enum is not None:
            return self.enum.names
        if self.kind == LITERAL:
            return list(self.choices)
        if self.kind in (UNION, LIST):
            for arg in self.args:
                found = arg.choice_list()
                if found is not None:
                    return found
        return None

    def enum_name(self) -> str | None:
        """Name of the enum class this type (or its list/optional item) refers to."""
        if self.kind == ENUM and self.enum is not None:
            return self.enum.name
        for arg in self.args:
            found = arg.enum_name()
            if found:
                return found
        return None


ANY_TYPE = TypeSpec(ANY, "")


def last_name(node: ast.AST) -> str | None:
    """`x` for `x`, `c` for `a.b.c`, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def expr_text(node: ast.AST) -> str:
    """Source text of an expression, as `ast.unparse` gives it (fast for simple names)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, (ast.Name, ast.Attribute)):
        return f"{expr_text(node.value)}.{node.attr}"
    if isinstance(node, ast.Constant) and isinstance(node.value, (bool, int, str, type(None))):
        return repr(node.value)
    return ast.unparse(node)


def literal_value(node: ast.AST) -> object:
    """The value of a literal expression, or NO_VALUE if it is not a literal."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return NO_VALUE


def json_safe(value: object) -> object:
    """`value` as plain JSON data (tuples become lists), or NO_VALUE if it has no JSON form."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else NO_VALUE
    if isinstance(value, (list, tuple)):
        items = [json_safe(v) for v in value]
        return NO_VALUE if any(i is NO_VALUE for i in items) else items
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return NO_VALUE
        items = {k: json_safe(v) for k, v in value.items()}
        return NO_VALUE if any(i is NO_VALUE for i in items.values()) else items
    return NO_VALUE


def read_enums(classes: dict[str, ast.ClassDef]) -> dict[str, EnumInfo]:
    """The `Enum` subclasses among a file's top-level classes (bases resolved by name)."""
    enums: dict[str, EnumInfo] = {}
    pending = dict(classes)
    progress = True
    while progress:  # a class may derive from another enum of the same file
        progress = False
        for name, node in list(pending.items()):
            bases = {last_name(b) for b in node.bases}
            if bases & ENUM_BASES or bases & set(enums):
                enums[name] = EnumInfo(name, tuple(_enum_members(node)))
                del pending[name]
                progress = True
    return enums


def _enum_members(node: ast.ClassDef) -> list[tuple[str, object]]:
    members = []
    for stmt in node.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        else:
            continue
        if isinstance(target, ast.Name) and not target.id.startswith("_"):
            members.append((target.id, json_safe(literal_value(value))))
    return members


def type_from_annotation(
    node: ast.AST | None, enums: dict[str, EnumInfo], text: str | None = None
) -> TypeSpec:
    """Build the `TypeSpec` of an annotation node (None: unannotated, i.e. any).

    `text` is the annotation's source text if the caller has it already.
    """
    if node is None:
        return ANY_TYPE
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:  # a string annotation: "float"
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return TypeSpec(ANY, node.value)
        text = None
    return _spec(node, enums, text)


def _spec(node: ast.AST, enums: dict[str, EnumInfo], text: str | None = None) -> TypeSpec:
    text = text if text is not None else expr_text(node)
    if isinstance(node, ast.Constant) and node.value is None:
        return TypeSpec(NONE, "None")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        members = _flatten_union(node.left, enums) + _flatten_union(node.right, enums)
        return TypeSpec(UNION, text, tuple(members))
    name = last_name(node)
    if name is not None:
        if name in _SCALARS:
            return TypeSpec(_SCALARS[name], text)
        if name in enums:
            return TypeSpec(ENUM, text, enum=enums[name])
        if name in _LIST_NAMES or name in _TUPLE_NAMES:
            return TypeSpec(LIST, text, (ANY_TYPE,))
        if name in _DICT_NAMES:
            return TypeSpec(DICT, text)
        return TypeSpec(ANY, text)
    if isinstance(node, ast.Subscript):
        return _subscript(node, text, enums)
    return TypeSpec(ANY, text)


def _subscript(node: ast.Subscript, text: str, enums: dict[str, EnumInfo]) -> TypeSpec:
    name = last_name(node.value)
    items = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    if name == "Optional" and len(items) == 1:
        return TypeSpec(UNION, text, (_spec(items[0], enums), TypeSpec(NONE, "None")))
    if name == "Union":
        members = [m for item in items for m in _flatten_union(item, enums)]
        return TypeSpec(UNION, text, tuple(members))
    if name == "Literal":
        values = [literal_value(i) for i in items]
        choices = tuple(json_safe(v) for v in values)
        if any(c is NO_VALUE for c in choices):
            return TypeSpec(ANY, text)
        return TypeSpec(LITERAL, text, choices=choices)
    if name in _LIST_NAMES and len(items) == 1:
        return TypeSpec(LIST, text, (_spec(items[0], enums),))
    if name in _TUPLE_NAMES:
        is_ellipsis = isinstance(items[-1], ast.Constant) and items[-1].value is Ellipsis
        if len(items) == 2 and is_ellipsis:
            return TypeSpec(LIST, text, (_spec(items[0], enums),))
        return TypeSpec(LIST, text, (ANY_TYPE,))
    if name in _DICT_NAMES:
        return TypeSpec(DICT, text)
    if name == "Annotated" and items:
        inner = _spec(items[0], enums)
        return TypeSpec(inner.kind, text, inner.args, inner.choices, inner.enum)
    return TypeSpec(ANY, text)


def _flatten_union(node: ast.AST, enums: dict[str, EnumInfo]) -> list[TypeSpec]:
    spec = _spec(node, enums)
    return list(spec.args) if spec.kind == UNION else [spec]
