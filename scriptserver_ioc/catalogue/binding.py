"""Bind a job's arguments to a command's signature and coerce them to the annotated types.

The result is JSON data: what a client sent, checked and converted, in parameter order.
Coercion is strict (docs/catalogue.md has the table): `int` takes 25, 25.0 and "25" but not
2.5 or True; `float` takes numbers and numeric strings but not True, NaN or infinity;
`bool` takes true/false, 1/0 and "true"/"false"/"1"/"0"; `str` takes strings and numbers
(as `str(number)`); an `Enum` of the same file takes a member name (or value) and gives the
name; `Literal[...]` takes one of its values; `list[T]` a list (or a JSON array string) of
T; `Optional[T]` also null. Unannotated parameters take any JSON value unchanged. Script
definitions take strings, numbers and booleans, all converted with `str()`.
"""

from __future__ import annotations

import difflib
import json
import math

from scriptserver_ioc.catalogue.model import (
    KEYWORD_ONLY,
    POSITIONAL_ONLY,
    POSITIONAL_OR_KEYWORD,
    SCRIPT_DEFINITION,
    VAR_KEYWORD,
    VAR_POSITIONAL,
    Command,
    Param,
)
from scriptserver_ioc.catalogue.typespec import (
    ANY,
    BOOL,
    DICT,
    ENUM,
    FLOAT,
    INT,
    LIST,
    LITERAL,
    NO_VALUE,
    NONE,
    STR,
    UNION,
    TypeSpec,
    json_safe,
)

_NAMED = (POSITIONAL_ONLY, POSITIONAL_OR_KEYWORD, KEYWORD_ONLY)


class BindError(ValueError):
    """Arguments that do not fit a command: unknown command, missing/unknown argument, bad value.

    The message names the command, the parameter and what was expected, e.g.
    `set_ei: parameter 'energy' expects float, got 'abc'`.
    """


class _Mismatch(Exception):
    def __init__(self, expected: str, got: object, detail: str = "") -> None:
        super().__init__(expected)
        self.expected, self.got, self.detail = expected, got, detail


def show(value: object) -> str:
    """A value as a message shows it: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def bind_arguments(command: Command, args: list, kwargs: dict) -> dict[str, object]:
    """Bind positional and keyword arguments to `command`; raise `BindError` if they don't fit.

    Like `inspect.Signature.bind` plus `apply_defaults`, with three additions for clients that
    name every argument (JSON jobs): positional-only parameters may be given by name, and
    the `*args` parameter may be given by name as a list. Extra keywords of `**kwargs`
    appear after the named parameters. Defaults that are expressions are left out (the
    command's own default applies when the job runs).
    """
    name = command.name
    if not isinstance(args, (list, tuple)):
        raise BindError(f"{name}: positional arguments must be a list, got {show(args)}")
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise BindError(f"{name}: keyword arguments must be an object with string keys")
    positional = [p for p in command.params if p.kind in (POSITIONAL_ONLY, POSITIONAL_OR_KEYWORD)]
    var_pos = next((p for p in command.params if p.kind == VAR_POSITIONAL), None)
    var_kw = next((p for p in command.params if p.kind == VAR_KEYWORD), None)
    given: dict[str, object] = {}
    extra_pos: list[object] = []
    extra_kw: dict[str, object] = {}
    for i, value in enumerate(args):
        if i < len(positional):
            given[positional[i].name] = value
        elif var_pos is not None:
            extra_pos.append(value)
        else:
            names = ", ".join(p.name for p in positional)
            raise BindError(
                f"{name}: takes at most {len(positional)} positional argument"
                f"{'' if len(positional) == 1 else 's'} ({names}), got {len(args)}"
            )
    for key, value in kwargs.items():
        param = command.param(key)
        if param is not None and param.kind in _NAMED:
            if key in given:
                raise BindError(f"{name}: argument '{key}' given both by position and by name")
            given[key] = value
        elif param is not None and param.kind == VAR_POSITIONAL:
            if extra_pos or not isinstance(value, (list, tuple)):
                raise BindError(
                    f"{name}: '{key}' collects extra positional arguments; give it by name "
                    f"only as a list and without extra positional arguments"
                )
            extra_pos = list(value)
        elif var_kw is not None:
            extra_kw[key] = value
        else:
            raise BindError(_unknown_argument(command, key))
    bound: dict[str, object] = {}
    missing = []
    for param in command.params:
        if param.kind == VAR_POSITIONAL:
            if extra_pos:
                bound[param.name] = [
                    _coerce_param(command, param, v, f"item {i}") for i, v in enumerate(extra_pos)
                ]
        elif param.kind == VAR_KEYWORD:
            for key, value in extra_kw.items():
                bound[key] = _coerce_param(command, param, value, f"keyword '{key}'")
        elif param.name in given:
            bound[param.name] = _coerce_param(command, param, given[param.name])
        elif param.has_default:
            if not param.default_expression:
                bound[param.name] = param.default
        else:
            missing.append(param.name)
    if missing:
        quoted = " and ".join(", ".join(f"'{m}'" for m in missing).rsplit(", ", 1))
        plural = "s" if len(missing) > 1 else ""
        raise BindError(f"{name}: missing required argument{plural} {quoted}")
    return bound


def _unknown_argument(command: Command, key: str) -> str:
    named = [p.name for p in command.params if p.kind in _NAMED]
    close = difflib.get_close_matches(key, named, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    listing = ", ".join(named) if named else "none"
    return f"{command.name}: unexpected argument '{key}'{hint}; parameters: {listing}"


def _coerce_param(command: Command, param: Param, value: object, where: str = "") -> object:
    try:
        if command.kind == SCRIPT_DEFINITION and param.kind == KEYWORD_ONLY:
            return _global_params(value, param)
        if command.kind == SCRIPT_DEFINITION:
            return _script_value(value, param.spec)
        return coerce(value, param.spec)
    except _Mismatch as err:
        subject = f"parameter '{param.name}'" + (f" ({where})" if where else "")
        detail = f" ({err.detail})" if err.detail else ""
        raise BindError(
            f"{command.name}: {subject} expects {err.expected}, got {show(err.got)}{detail}"
        ) from None


def coerce(value: object, spec: TypeSpec) -> object:
    """`value` converted to `spec` as JSON data; raises `_Mismatch` if it does not fit."""
    kind = spec.kind
    if kind == ANY:
        safe = json_safe(value)
        if safe is NO_VALUE:
            raise _Mismatch("a JSON value (null, boolean, number, string, list or object)", value)
        return safe
    if kind in _SCALARS:
        return _SCALARS[kind](value)
    if kind == NONE:
        if value is None:
            return None
        raise _Mismatch("None", value)
    if kind == ENUM:
        return _enum(value, spec)
    if kind == LITERAL:
        return _literal(value, spec)
    if kind == LIST:
        return _list(value, spec)
    if kind == DICT:
        if not isinstance(value, dict):
            raise _Mismatch(spec.text or "dict", value)
        return coerce(value, TypeSpec(ANY, ""))
    if kind == UNION:
        if value is None and any(a.kind == NONE for a in spec.args):
            return None
        for member in spec.args:
            try:
                return coerce(value, member)
            except _Mismatch:
                continue
        raise _Mismatch(spec.text, value)
    raise _Mismatch(spec.text, value)  # pragma: no cover - every kind is handled above


def _int(value: object) -> int:
    if isinstance(value, bool):
        raise _Mismatch("int", value)
    if isinstance(value, int):
        return value
    number = value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                number = float(value.strip())
            except ValueError:
                raise _Mismatch("int", value) from None
    if isinstance(number, float) and math.isfinite(number) and number.is_integer():
        return int(number)
    raise _Mismatch("int", value)


def _float(value: object) -> float:
    if isinstance(value, bool):
        raise _Mismatch("float", value)
    try:
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            number = float(value.strip())
        else:
            raise _Mismatch("float", value)
    except (ValueError, OverflowError):
        raise _Mismatch("float", value) from None
    if not math.isfinite(number):
        raise _Mismatch("float", value, "NaN and infinity are not accepted")
    return number


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
    raise _Mismatch("bool (true/false, 1/0)", value)


def _str(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise _Mismatch("str", value)
        return str(value)
    raise _Mismatch("str", value)


_SCALARS = {INT: _int, FLOAT: _float, BOOL: _bool, STR: _str}


def _enum(value: object, spec: TypeSpec) -> str:
    enum = spec.enum
    assert enum is not None
    names = enum.names
    expected = f"{enum.name}, one of " + ", ".join(repr(n) for n in names)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(enum.name + "."):
            text = text[len(enum.name) + 1 :]
        if text in names:
            return text
        folded = [n for n in names if n.lower() == text.lower()]
        if len(folded) == 1:
            return folded[0]
    for member, member_value in enum.members:
        if member_value is not NO_VALUE and _same(member_value, value):
            return member
    raise _Mismatch(expected, value)


def _literal(value: object, spec: TypeSpec) -> object:
    for choice in spec.choices:
        if _same(choice, value):
            return choice
    for choice in spec.choices:
        convert = _SCALARS.get(type(choice).__name__)
        if convert is None:
            continue
        try:
            if _same(choice, convert(value)):
                return choice
        except _Mismatch:
            continue
    raise _Mismatch("one of " + ", ".join(repr(c) for c in spec.choices), value)


def _list(value: object, spec: TypeSpec) -> list:
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            raise _Mismatch(spec.text, value, "not a valid JSON array") from None
    if not isinstance(value, (list, tuple)):
        raise _Mismatch(spec.text, value)
    item = spec.args[0] if spec.args else TypeSpec(ANY, "")
    result = []
    for i, element in enumerate(value):
        try:
            result.append(coerce(element, item))
        except _Mismatch as err:
            raise _Mismatch(
                spec.text, value, f"item {i} expects {err.expected}, got {show(element)}"
            ) from None
    return result


def _same(a: object, b: object) -> bool:
    """Equal and of the same kind (True is not 1, "1" is not 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _script_value(value: object, spec: TypeSpec) -> str:
    """A script-definition value: `str()` of a string, number or boolean."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value)):
        text = str(value)
    else:
        raise _Mismatch("str (script definition parameters are strings)", value)
    if spec.kind == ENUM and spec.enum is not None and text not in spec.enum.names:
        raise _Mismatch("one of " + ", ".join(repr(n) for n in spec.enum.names), value)
    return text


def _global_params(value: object, param: Param) -> dict:
    """A script definition's global parameters: known names, string values, defaults kept."""
    defaults = param.default if isinstance(param.default, dict) else {}
    if not isinstance(value, dict):
        raise _Mismatch("an object of global parameters", value)
    merged = dict(defaults)
    for key, item in value.items():
        if key not in defaults:
            known = ", ".join(defaults) or "none"
            raise _Mismatch(
                "an object of global parameters", value, f"unknown {key!r}; known: {known}"
            )
        merged[key] = _script_value(item, param.spec)
    return merged


def unknown_command(name: str, known: list[str]) -> str:
    """The error for a command name not in `known`, with the nearest name if any."""
    close = difflib.get_close_matches(str(name), known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    listing = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
    return f"unknown command {name!r}{hint}; known commands: {listing or 'none'}"
