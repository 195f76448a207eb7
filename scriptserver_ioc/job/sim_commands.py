"""Catalogue commands in a dry run: checked, run in simulation, counted by their estimate.

Runs inside the dry-run process (``simulate.py``): standard library only, Python 3.8+.
A command marked ``scriptserver.dry_run_stop`` ends the dry run where it is called
(verdict ``unknown``); one marked ``scriptserver.dry_run_safe`` runs without the dry run's
isolation (``sim_isolation``).
"""

from __future__ import annotations

import enum
import inspect

import scriptserver
import sim_loader
from namespace import _positional as positional_arguments
from namespace import build_namespace
from sim_state import InvalidArguments, call_text


def simulated_command(sim, entry, original):
    """Wrap a catalogue command: check it, run it in simulation, count its estimate."""
    name = entry["name"]
    try:
        module = sim_loader.load_module(entry)
        definition = entry.get("kind") == sim_loader.SCRIPT_DEFINITION
        function = None if definition else sim_loader.command_function(entry, module)
        signature = inspect.signature(function) if function is not None else None
    except (sim_loader.CommandLoadError, TypeError, ValueError):
        return original  # calling it reports why it is unavailable
    defaults = _definition_defaults(module) if definition else {}
    marker = getattr(function, scriptserver.DRY_RUN_MARKER, None)
    enums = {}
    for param, class_name in (entry.get("enum_params") or {}).items():
        cls = getattr(module, class_name, None)
        if isinstance(cls, type) and issubclass(cls, enum.Enum):
            enums[param] = cls

    def command(*args, **kwargs):
        label = call_text(name, args, kwargs)
        sim.record_call(name, args, kwargs)
        if marker == scriptserver.STOP:
            sim.isolation.halt(f"calls `{name}`, marked to stop dry runs")
        global_params = None
        if definition:  # as the job calls it (namespace.run_script_definition)
            given = dict(kwargs)
            global_params = given.pop("global_params", None)
            if args:
                instance = sim_loader.script_definition(entry, module)
                given = dict(positional_arguments(name, instance, args, given), **given)
            call_args = ()
            call_kwargs = dict(defaults)
            call_kwargs.update((k, v if isinstance(v, str) else str(v)) for k, v in given.items())
        else:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{label}: {exc}") from None
            for param, cls in enums.items():
                value = bound.arguments.get(param)
                if isinstance(value, str) and value in cls.__members__:
                    bound.arguments[param] = cls[value]
            call_args, call_kwargs = bound.args, bound.kwargs
        validate, estimate = sim_loader.companions(entry, module, global_params)
        if validate is not None:
            what = sim_loader.companion_label(entry, "validate")
            problem = sim_loader.check_message(what, validate(*call_args, **call_kwargs))
            if problem:
                raise InvalidArguments(f"{label}: {problem}")
        seconds = None
        if estimate is not None:
            what = sim_loader.companion_label(entry, "estimate")
            seconds, problem = sim_loader.estimate_seconds(
                what, estimate(*call_args, **call_kwargs)
            )
            if problem:
                sim.note(f"line {sim.line}: {problem}")
        run = original
        if marker == scriptserver.SAFE:  # its author vouches for its effects in a dry run
            run = _unisolated(sim.isolation, original)
        if seconds is None:
            sim.step(f"{label} (no estimate: run in simulation)")
            return run(*args, **kwargs)
        sim.step(f"{label} ~{seconds:g} s (declared estimate; run in simulation)")
        started = sim.clock.now()
        try:
            return run(*args, **kwargs)
        finally:  # the declared estimate is the call's time (unless it simulated longer)
            sim.clock.advance(max(0.0, seconds - (sim.clock.now() - started)))
            sim.check_stop()

    command.__name__ = command.__qualname__ = name
    command.__doc__ = getattr(original, "__doc__", None)
    return command


def _unisolated(isolation, function):
    def unisolated(*args, **kwargs):
        with isolation.suspended():
            return function(*args, **kwargs)

    return unisolated


def _definition_defaults(module):
    """``{parameter: str(default)}`` of ``DoRun.run``, as the script generator fills a row."""
    try:
        parameters = inspect.signature(module.DoRun.run).parameters
    except (AttributeError, TypeError, ValueError):
        return {}
    return {
        name: str(p.default)
        for name, p in parameters.items()
        if name != "self" and p.default is not inspect.Parameter.empty
    }


def build_commands(sim, commands, command_dirs):
    """The job namespace's commands (``namespace.build_namespace``), wrapped for simulation."""
    namespace = build_namespace(commands, command_dirs)
    for entry in commands:
        name = entry.get("name")
        if name in namespace:
            namespace[name] = simulated_command(sim, entry, namespace[name])
    return namespace
