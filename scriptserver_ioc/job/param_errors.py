"""A TypeError from inside genie_python told as the parameter error it is.

`g.waitfor_time(seconds=wait)` with `wait = "five minutes"` fails deep inside genie with
"'<' not supported between instances of 'str' and 'int'". The value that was wrong is
still in the frame of the genie function the script called: this module finds that frame
in the traceback and checks its arguments against the function's annotations, to say
`waitfor_time: parameter 'seconds' expects float, got 'five minutes'`.

Runs in job and dry-run processes: standard library only, Python 3.8+, nothing imported
from the rest of the package. It only reads the traceback; it never calls user code.
"""

import inspect
import re
import traceback

LIBRARIES = ("genie_python",)
"""Packages whose functions' annotations are trusted to describe what they accept."""

_SIMPLE = {
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "None": lambda v: v is None,
    "NoneType": lambda v: v is None,
}


def parameter_error(exc):
    """The parameter error behind a TypeError raised inside a library function, or None."""
    if not isinstance(exc, TypeError):
        return None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        module = frame.f_globals.get("__name__") or ""
        if not module.startswith(LIBRARIES):
            continue
        function = _function_of(frame)
        if function is None:
            continue
        message = _first_mismatch(function, frame.f_locals)
        if message is not None:
            return f"{function.__name__}: {message}"
    return None


def _function_of(frame):
    """The module-level function whose code the frame runs (decorators unwrapped)."""
    candidate = frame.f_globals.get(frame.f_code.co_name)
    try:
        candidate = inspect.unwrap(candidate) if callable(candidate) else None
    except ValueError:
        return None
    if getattr(candidate, "__code__", None) is not frame.f_code:
        return None
    return candidate


def _first_mismatch(function, values):
    """`parameter 'x' expects float, got 'text'` for the first argument its annotation refuses."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    for parameter in parameters:
        if parameter.name not in values or parameter.annotation is inspect.Parameter.empty:
            continue
        accepts = _accepted(parameter.annotation)
        value = values[parameter.name]
        if accepts is None or any(check(value) for _, check in accepts):
            continue
        expected = " or ".join(name for name, _ in accepts if name not in ("None", "NoneType"))
        return "parameter {!r} expects {}, got {}".format(
            parameter.name, expected or "None", _shown(value)
        )
    return None


def _accepted(annotation):
    """`[(type name, check)]` of a simple annotation (`float | None`), else None (unknown)."""
    text = annotation if isinstance(annotation, str) else _annotation_text(annotation)
    text = re.sub(r"^(typing\.)?Optional\[(.*)\]$", r"\2 | None", text.strip())
    text = re.sub(r"^(typing\.)?Union\[(.*)\]$", r"\2", text)
    names = [part.strip() for part in re.split(r"[|,]", text)]
    if not names or any(name not in _SIMPLE for name in names):
        return None
    return [(name, _SIMPLE[name]) for name in names]


def _annotation_text(annotation):
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
