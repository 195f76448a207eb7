"""Load command modules and find their companions (validate_, estimate_, DoRun).

Used by the companion checker (checker.py) and the dry run (simulate.py), both inside job
processes: standard library only, Python 3.8+, nothing imported from the rest of the package.

A command entry is the dict of ``Catalogue.job_commands()``:
``{"name", "module", "path", "kind": "function" | "script_definition"}``.
"""

from __future__ import annotations

import enum
import math

# one module loader for jobs, companion checks and dry runs
from namespace import FUNCTION, SCRIPT_DEFINITION, add_command_dirs, load_module  # noqa: F401
from namespace import CommandUnavailable as CommandLoadError
from namespace import _fill_global_params as fill_global_params


def command_function(entry, module):
    """Return the command callable of a ``function`` entry.

    Raises:
        CommandLoadError: the module has no such function (the file changed since it was read).
    """
    func = getattr(module, entry["name"], None)
    if not callable(func):
        raise CommandLoadError(
            "module '{}' defines no function '{}' (was the file changed?)".format(
                module.__name__, entry["name"]
            )
        )
    return func


def script_definition(entry, module, global_params=None):
    """Return a new ``DoRun()`` instance of a script-definition module.

    Its ``global_params`` are set as the script generator would (``global_params`` given,
    over the defaults of ``global_params_definition``).

    Raises:
        CommandLoadError: the module has no ``DoRun`` class or it cannot be instantiated.
    """
    cls = getattr(module, "DoRun", None)
    if cls is None:
        raise CommandLoadError(f"script definition '{module.__name__}' has no class DoRun")
    try:
        instance = cls()
        fill_global_params(instance, global_params)
        return instance
    except Exception as exc:  # noqa: BLE001
        raise CommandLoadError(
            f"script definition '{module.__name__}': DoRun() failed: {type(exc).__name__}: {exc}"
        ) from None


def companions(entry, module, global_params=None):
    """Return ``(validate, estimate)`` callables of a command, either may be None.

    Functions use ``validate_<name>`` / ``estimate_<name>``; script definitions use
    ``DoRun().parameters_valid`` / ``DoRun().estimate_time`` (with ``global_params``).
    """
    if entry.get("kind") == SCRIPT_DEFINITION:
        instance = script_definition(entry, module, global_params)
        return (
            getattr(instance, "parameters_valid", None),
            getattr(instance, "estimate_time", None),
        )
    validate = getattr(module, "validate_" + entry["name"], None)
    estimate = getattr(module, "estimate_" + entry["name"], None)
    return (validate if callable(validate) else None, estimate if callable(estimate) else None)


def enum_arguments(entry, module, kwargs):
    """Turn member names of enum parameters back into members, as the job namespace does."""
    converted = dict(kwargs)
    for param, class_name in (entry.get("enum_params") or {}).items():
        cls = getattr(module, class_name, None)
        value = converted.get(param)
        if isinstance(cls, type) and issubclass(cls, enum.Enum) and isinstance(value, str):
            if value in cls.__members__:
                converted[param] = cls[value]
    return converted


def check_message(label, result):
    """Interpret what a validate companion returned: None if valid, else the message.

    ``None``, ``True`` and ``""`` mean valid; a string is the error; ``False`` is a rejection
    without a message; anything else is reported as a broken check.
    """
    if result is None or result is True or (isinstance(result, str) and not result.strip()):
        return None
    if isinstance(result, str):
        return result.strip()
    if result is False:
        return f"{label} rejected the arguments (it returned False)"
    return f"{label} returned {result!r}; expected None or an error message"


def estimate_seconds(label, result):
    """Interpret what an estimate companion returned: ``(seconds or None, problem or None)``."""
    if result is None:
        return None, None
    if isinstance(result, bool) or not isinstance(result, (int, float)):
        if isinstance(result, str):
            return None, f"{label} failed: {result.strip()}"
        return None, f"{label} returned {result!r}; expected seconds as a number or None"
    value = float(result)
    if math.isnan(value) or math.isinf(value) or value < 0:
        return None, f"{label} returned {result!r}; expected seconds >= 0"
    return value, None


def companion_label(entry, which):
    """Human name of a companion, e.g. ``validate_set_ei`` or ``scan.DoRun.estimate_time``."""
    if entry.get("kind") == SCRIPT_DEFINITION:
        method = "parameters_valid" if which == "validate" else "estimate_time"
        return "{}: DoRun().{}".format(entry["name"], method)
    return "{}_{}".format(which, entry["name"])
