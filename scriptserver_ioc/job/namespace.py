"""Make every catalogue command callable by name in a job's namespace.

Runs inside job processes (the launcher, the dry run): standard library only, Python 3.8+,
nothing imported from the rest of the package.

A command entry is what ``Catalogue.job_commands()`` gives:
``{"name", "module", "path", "kind": "function" | "script_definition", "enum_params"}``.
Modules are imported by their catalogue module name (the file's stem) from their path and
registered in ``sys.modules``, so command modules importing each other share one copy.

A command whose module fails to import does not stop the job: its name is bound to a stub
that raises ``CommandUnavailable`` (with the import error) when the job calls it, so jobs
that do not use it still run.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading

_IMPORTS = threading.Lock()
_MODULE_LOCKS: dict = {}

FUNCTION = "function"
SCRIPT_DEFINITION = "script_definition"


class CommandUnavailable(RuntimeError):
    """A command was called whose module could not be imported or does not define it."""


class ScriptDefinitionError(RuntimeError):
    """A script definition's ``run`` returned an error message instead of None."""


def add_command_dirs(command_dirs) -> None:
    """Put the command directories at the front of ``sys.path`` (once each, in order)."""
    for path in reversed([str(d) for d in command_dirs]):
        if path not in sys.path:
            sys.path.insert(0, path)


def build_namespace(commands, command_dirs, lazy=True) -> dict:
    """Return ``{name: callable}`` for every command.

    Args:
        commands: the catalogue's job entries (see the module docstring).
        command_dirs: directories put at the front of ``sys.path`` first.
        lazy: import a command's module when the command is first called, so that a job
            pays only for the modules it uses (one command module importing genie_python
            costs about 0.3 s). False imports every module now.

    Function commands are the module's functions themselves (wrapped only when some
    parameters are enums, to turn member names back into members). Script definitions
    become ``name(**kwargs)``: the values are passed to ``DoRun().run`` as strings, as the
    script generator does, and a returned error string raises ``ScriptDefinitionError``.
    """
    add_command_dirs(command_dirs)
    namespace = {}
    for entry in commands:
        name = entry.get("name")
        if not isinstance(name, str) or not name.isidentifier():
            continue
        namespace[name] = _lazy(name, entry) if lazy else resolve(entry)
    return namespace


def warm_imports(commands, stop=None) -> None:
    """Import the command modules ahead of a job (a warm spare while it waits).

    Args:
        commands: the catalogue's job entries.
        stop: a callable; warming stops between two modules once it returns True.
    """
    for entry in commands:
        if stop is not None and stop():
            return
        try:
            load_module(entry)
        except CommandUnavailable:
            pass


def resolve(entry):
    """The callable of a command entry, importing its module (a stub if that fails)."""
    name = entry.get("name")
    try:
        module = load_module(entry)
        if entry.get("kind") == SCRIPT_DEFINITION:
            return _script_definition(name, module)
        return _function(name, module, entry.get("enum_params") or {})
    except CommandUnavailable as exc:
        return _unavailable(name, str(exc))


def _lazy(name: str, entry):
    target = []

    def command(*args, **kwargs):
        if not target:
            target.append(resolve(entry))
        return target[0](*args, **kwargs)

    command.__name__ = command.__qualname__ = name
    command.__doc__ = f"Instrument command {name} from {entry.get('path')} (imported when used)."
    return command


def load_module(entry):
    """Import (once) and return the module of a command entry.

    Raises:
        CommandUnavailable: the file cannot be imported; the message names the module, the
            file and the exception.
    """
    path = os.path.abspath(str(entry.get("path") or ""))
    name = entry.get("module") or os.path.splitext(os.path.basename(path))[0]
    with _IMPORTS:
        lock = _MODULE_LOCKS.setdefault(name, threading.RLock())
    with lock:  # a spare warming this module in a thread finishes it first
        return _load(name, path)


def _load(name: str, path: str):
    module = sys.modules.get(name)
    if module is not None and _same_file(getattr(module, "__file__", None), path):
        return module
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError("not a Python source file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # a broken command file must not stop the job
        sys.modules.pop(name, None)
        raise CommandUnavailable(
            f"cannot import command module '{name}' ({path}): {type(exc).__name__}: {exc}"
        ) from None
    return module


def _same_file(a, b) -> bool:
    if not a:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _unavailable(name: str, reason: str):
    def unavailable(*args, **kwargs):
        raise CommandUnavailable(f"command '{name}' is unavailable: {reason}")

    unavailable.__name__ = name
    unavailable.__doc__ = "Unavailable command: " + reason
    return unavailable


def _function(name: str, module, enum_params: dict):
    function = getattr(module, name, None)
    if not callable(function):
        raise CommandUnavailable(f"module '{module.__name__}' defines no function '{name}'")
    if not enum_params:
        return function
    import enum  # only for commands with enum parameters: spares start faster without
    import functools
    import inspect

    enums = {}
    for param, class_name in enum_params.items():
        cls = getattr(module, class_name, None)
        if isinstance(cls, type) and issubclass(cls, enum.Enum):
            enums[param] = cls
    if not enums:
        return function
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return function

    @functools.wraps(function)
    def with_enum_members(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return function(*args, **kwargs)  # let the function report the bad call
        for param, cls in enums.items():
            value = bound.arguments.get(param)
            if isinstance(value, str) and value in cls.__members__:
                bound.arguments[param] = cls[value]
        return function(*bound.args, **bound.kwargs)

    return with_enum_members


def _script_definition(name: str, module):
    cls = getattr(module, "DoRun", None)
    if not isinstance(cls, type):
        raise CommandUnavailable(
            f"script definition '{name}' ({module.__name__}) has no class DoRun"
        )

    def run_script_definition(*args, **kwargs):
        if args:
            raise TypeError(
                f"script definition '{name}' takes keyword arguments only, e.g. "
                f"{name}(temperature='1.5')"
            )
        definition = cls()
        _fill_global_params(definition)
        strings = _run_defaults(definition)  # every parameter is passed, as the generator does
        strings.update(
            (key, value if isinstance(value, str) else str(value)) for key, value in kwargs.items()
        )
        error = definition.run(**strings)
        if error:
            raise ScriptDefinitionError(f"{name}: {str(error).strip()}")
        return None

    run_script_definition.__name__ = name
    run_script_definition.__qualname__ = name
    run_script_definition.__doc__ = getattr(cls, "__doc__", None)
    return run_script_definition


def _run_defaults(definition) -> dict:
    """The defaults of ``DoRun.run`` as strings (genie's casters expect every parameter)."""
    import inspect

    try:
        parameters = inspect.signature(definition.run).parameters
    except (TypeError, ValueError):
        return {}
    return {
        name: str(p.default)
        for name, p in parameters.items()
        if p.default is not inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD
    }


def _fill_global_params(definition) -> None:
    """Default ``global_params`` from ``global_params_definition``, as the generator does."""
    spec = getattr(definition, "global_params_definition", None)
    if not isinstance(spec, dict) or getattr(definition, "global_params", None):
        return
    values = {}
    for key, described in spec.items():
        try:
            default, caster = described[0], described[1]
            values[key] = caster(default)
        except Exception:  # a caster that rejects its own default: keep the raw default
            values[key] = described[0] if isinstance(described, (tuple, list)) else described
    definition.global_params = values
