"""Make every catalogue command callable by name in a job's namespace.

Runs inside job processes (the launcher, the dry run): standard library only, Python 3.8+,
nothing imported from the rest of the package.

A command entry is what ``Catalogue.job_commands()`` gives:
``{"name", "module", "path", "kind": "function" | "script_definition" | "plan",
"enum_params"}``.
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

import _plan_commands

_IMPORTS = threading.Lock()
_MODULE_LOCKS: dict = {}

FUNCTION = "function"
SCRIPT_DEFINITION = "script_definition"
PLAN = "plan"


class CommandUnavailable(RuntimeError):
    """A command was called whose module could not be imported or does not define it."""


class ScriptDefinitionError(RuntimeError):
    """A script definition's ``run`` returned an error message instead of None."""


def add_command_dirs(command_dirs) -> None:
    """Put the command directories on ``sys.path`` (once each, in order).

    They go right after the standard library's entries: ahead of installed packages (an
    instrument's module wins over a package of the same name, as before) but behind the
    standard library, so a command file called ``io.py`` or ``statistics.py`` does not
    replace the standard module for every other import of the job.
    """
    index = _after_stdlib()
    for path in [str(d) for d in command_dirs]:
        if path not in sys.path:
            sys.path.insert(index, path)
            index += 1


def _after_stdlib() -> int:
    """Index in ``sys.path`` just after the last standard-library entry (0 if none)."""
    bases = {os.path.normcase(os.path.abspath(p)) for p in (sys.base_prefix, sys.prefix)}
    own = os.path.normcase(os.path.dirname(os.path.abspath(__file__)))
    end = 0
    for index, entry in enumerate(sys.path):
        norm = os.path.normcase(os.path.abspath(entry or "."))
        if norm == own:  # the launcher's or checker's own directory
            continue
        parts = set(norm.replace("\\", "/").split("/"))
        if "site-packages" in parts or "dist-packages" in parts:
            break
        if any(norm == b or norm.startswith(b + os.sep) for b in bases):
            end = index + 1
    return end


def shadows_stdlib(name: str) -> bool:
    """True if a top-level module ``name`` is a standard-library module."""
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        return name in names
    return name in sys.builtin_module_names or name in ("io", "os", "sys", "time", "string")


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
    Plans (generator functions) run on the instrument's RunEngine when called
    (``_plan_commands.plan_command``).
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
        function = _function(name, module, entry.get("enum_params") or {})
        if entry.get("kind") == PLAN:  # a bluesky plan: calling it runs it
            return _plan_commands.plan_command(name, function)
        return function
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
    # a command file named like a standard module (io.py) is registered under another
    # name, so the standard module stays what every other import gets
    registered = f"{name}__commands" if shadows_stdlib(name) else name
    module = sys.modules.get(registered)
    if module is not None and _same_file(getattr(module, "__file__", None), path):
        return module
    try:
        if "." in name or os.path.basename(path) == "__init__.py":
            module = _import_package_module(name, path)
        else:
            spec = importlib.util.spec_from_file_location(registered, path)
            if spec is None or spec.loader is None:
                raise ImportError("not a Python source file")
            module = importlib.util.module_from_spec(spec)
            sys.modules[registered] = module
            spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # a broken command file must not stop the job
        if "." not in name:
            sys.modules.pop(registered, None)
        error = CommandUnavailable(
            f"cannot import command module '{name}' ({path}): {type(exc).__name__}: {exc}"
        )
        raise error from exc  # the cause gives the catalogue's report its file and line
    return module


def _import_package_module(name: str, path: str):
    """Import a package (``__init__.py``) or a module inside one by its dotted name.

    The normal import system is used, so relative imports (``from .util import x``) work.
    """
    module = importlib.import_module(name)
    if not _same_file(getattr(module, "__file__", None), path):
        raise ImportError(f"'{name}' is imported from {getattr(module, '__file__', None)}")
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
        definition = cls()
        _fill_global_params(definition, kwargs.pop("global_params", None))
        if args:  # by position, in run's order, as the catalogue binds them at submit
            kwargs = dict(_positional(name, definition, args, kwargs), **kwargs)
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


def _positional(name: str, definition, args, kwargs) -> dict:
    """Positional values of a script definition call named after ``run``'s parameters."""
    import inspect

    names = [
        p.name
        for p in inspect.signature(definition.run).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(args) > len(names):
        raise TypeError(f"{name}() takes {len(names)} positional arguments but {len(args)} given")
    named = dict(zip(names, args))
    both = sorted(set(named) & set(kwargs))
    if both:
        raise TypeError(f"{name}() got multiple values for argument '{both[0]}'")
    return named


def _fill_global_params(definition, given=None) -> None:
    """Set ``global_params`` as the generator does: ``given`` values over the defaults.

    Each value goes through its caster from ``global_params_definition``
    (``{name: (default, caster)}``).
    """
    spec = getattr(definition, "global_params_definition", None)
    if not isinstance(spec, dict) or (getattr(definition, "global_params", None) and not given):
        return
    values = {}
    given = given if isinstance(given, dict) else {}
    for key, described in spec.items():
        raw = described[0] if isinstance(described, (tuple, list)) else described
        raw = given.get(key, raw)
        try:
            values[key] = described[1](raw)
        except Exception:  # a caster that rejects the value: keep the raw value
            values[key] = raw
    definition.global_params = values
