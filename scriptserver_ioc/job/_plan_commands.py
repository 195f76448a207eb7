"""Plan commands: a catalogue command that is a bluesky plan runs on the instrument's RunEngine.

Runs inside job processes: standard library only, Python 3.8+. bluesky and
``ibex_bluesky_core`` are used only once a plan command is called (the command's module
has imported them by then).

Calling a plan command binds its arguments, turns block names given for block-typed
parameters into ``ibex_bluesky_core`` block devices (``motor: BlockMot`` given
``"theta"`` becomes ``block_mot("theta")``, connected before the plan starts, as
``ibex_bluesky_core`` makes them), and runs the plan with ``RE(plan)`` on the instrument's
RunEngine (`instrument_run_engine`); ``_bluesky`` puts that call under the server's
controls. Called inside a running plan it returns the plan, so plans compose.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import threading

import _bluesky

BLOCKS = "ibex_bluesky_core.devices.block"
_BLOCK_MAKERS = (  # most specific class first: (class name, maker, takes a datatype)
    ("BlockMot", "block_mot", False),
    ("BlockRwRbv", "block_rw_rbv", True),
    ("BlockRw", "block_rw", True),
    ("BlockR", "block_r", True),
)
_ENGINES = []


def plan_command(name: str, plan_function):
    """The callable bound to plan command ``name`` in a job (``plan_function`` makes the plan)."""
    hints = _hints(plan_function)

    def command(*args, **kwargs):
        control = _bluesky._control
        nested = threading.current_thread() is not threading.main_thread() or (
            control is not None and control.engine is not None
        )
        args, kwargs, devices = _devices_by_name(plan_function, hints, args, kwargs)
        plan = plan_function(*args, **kwargs)
        if devices:
            plan = _connected_first(devices, plan)
        if nested:  # ``yield from name(...)`` inside a running plan
            return plan
        return instrument_run_engine()(plan)

    command.__name__ = command.__qualname__ = name
    command.__doc__ = getattr(plan_function, "__doc__", None)
    command.plan = plan_function
    return command


def instrument_run_engine():
    """The RunEngine plan commands run on, made once per job process.

    The job's own ``RE`` (e.g. made by the prelude) if it is a RunEngine; else
    ``ibex_bluesky_core``'s ``get_run_engine()`` when installed; else a plain
    ``bluesky.RunEngine(call_returns_result=True)``.
    """
    if _ENGINES:
        return _ENGINES[0]
    engine = getattr(sys.modules.get("__main__"), "RE", None)
    run_engine = sys.modules.get(_bluesky.RUN_ENGINE_MODULE)
    if run_engine is None or not isinstance(engine, run_engine.RunEngine):
        try:
            from ibex_bluesky_core.run_engine import get_run_engine
        except ImportError:
            from bluesky import RunEngine

            engine = RunEngine(call_returns_result=True)
        else:
            engine = get_run_engine()
    _ENGINES.append(engine)
    return engine


def _hints(function) -> dict:
    """The resolved annotations of ``function`` (empty if they cannot be resolved)."""
    import typing

    try:
        return typing.get_type_hints(inspect.unwrap(function))
    except Exception:  # a forward reference the module does not define: no devices
        return {}


def _devices_by_name(function, hints, args, kwargs):
    """Arguments with block names replaced by block devices, and the devices made."""
    blocks = sys.modules.get(BLOCKS)
    if blocks is None or not hints:
        return args, kwargs, []
    try:
        bound = inspect.signature(function).bind(*args, **kwargs)
    except TypeError:
        return args, kwargs, []  # the call itself reports the bad arguments
    devices = []
    for param, value in bound.arguments.items():
        if isinstance(value, str) and param in hints:
            device = _block(blocks, hints[param], value)
            if device is not None:
                bound.arguments[param] = device
                devices.append(device)
    return bound.args, bound.kwargs, devices


def _block(blocks, annotation, block_name: str):
    """The block device ``annotation`` asks for, named ``block_name``; None if not a block."""
    import typing

    origin = typing.get_origin(annotation) or annotation
    if not isinstance(origin, type):
        return None
    types = [a for a in typing.get_args(annotation) if isinstance(a, type)]
    for class_name, maker, typed in _BLOCK_MAKERS:
        cls = getattr(blocks, class_name, None)
        if isinstance(cls, type) and issubclass(origin, cls):
            make = getattr(blocks, maker)
            return make(types[0] if types else float, block_name) if typed else make(block_name)
    return None


def _connected_first(devices, plan):
    """The plan, after connecting ``devices`` (as ``ibex_bluesky_core``'s plans do)."""
    stubs = importlib.import_module("ophyd_async.plan_stubs")
    yield from stubs.ensure_connected(*devices)
    return (yield from plan)
