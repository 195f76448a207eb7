"""Describe command modules from their live objects, for the catalogue (checker's ``describe``).

Runs in the checker process (job interpreter): standard library only, Python 3.8+, nothing
imported from the rest of the package. The catalogue reads command files without importing
them; this module imports them, as a job would, to report

- whether a module imports at all (else the file, line and message of the failure);
- the signature and docstring of names the syntax tree cannot resolve (``scan =
  local_wrapper(_inst, "scan")``, decorator results, ``locals()[name] = ...`` loops).

A name is described only if it is a function-like object (function, method, builtin,
``functools.partial``, a callable with ``__wrapped__``) defined in a file under one of the
command directories: names taken from the standard library, genie_python or other installed
packages are not instrument commands.
"""

from __future__ import annotations

import enum
import functools
import inspect
import json
import os
import re
import sys
import traceback

from namespace import CommandUnavailable, load_module

MAX_DOC = 20000


def describe_modules(request, command_dirs, emit=None):
    """Answer a ``describe`` request: ``{"modules": [{"module", "path", "names", "all"}]}``.

    ``names``: names to describe; ``all``: also every other public function-like name of
    the module that is not in ``exclude`` (names the file binds by ``def``, ``class`` or
    ``import``). Returns ``{"ok": True, "modules": [{"path", "error", "names"}]}``. With
    ``"stream": true`` (and ``emit``), each module's description is emitted as an event
    as soon as it is ready and modules blocking at import hold back no other
    (``_describe_pool``); the answer then only says the batch is done (``"modules": []``).
    """
    # module-level genie_python calls touch no hardware while the catalogue looks (this
    # process only describes modules and exits)
    os.environ["GENIE_SIMULATE"] = "1"
    roots = [os.path.realpath(str(d)) for d in command_dirs]
    if request.get("stream") and emit is not None:
        from _describe_pool import DescribePool

        slow_after = float(request.get("slow_after") or 3.0)
        items = request.get("modules") or []
        DescribePool(items, lambda item: _describe_module(item, roots), emit, slow_after).run()
        return {"ok": True, "modules": []}
    answers = []
    for item in request.get("modules") or []:
        answers.append(_describe_module(item, roots))
    return {"ok": True, "modules": answers}


def _describe_module(item, roots):
    path = item.get("path")
    entry = {"module": item.get("module"), "path": path}
    try:
        module = load_module(entry)
    except CommandUnavailable as exc:
        return {"path": path, "error": import_error(exc, path, roots), "names": {}}
    names = list(item.get("names") or [])
    if item.get("all"):
        exclude = set(item.get("exclude") or [])
        for name, value in sorted(vars(module).items()):
            if name.startswith("_") or name in exclude or name in names:
                continue
            if _function_like(value) and _instrument_file(value, roots):
                names.append(name)
    answer = {"path": path, "error": None, "names": {}}
    if item.get("help"):
        answer["help"] = _definition_help(module)
    described = answer["names"]
    for name in names:
        value = getattr(module, name, None)
        if value is None or not _function_like(value) or not _instrument_file(value, roots):
            continue
        described[name] = describe_object(value)
    return answer


def _definition_help(module):
    """What ``DoRun().get_help()`` returns (built at run time: f-strings, ``.format()``)."""
    cls = getattr(module, "DoRun", None)
    if not inspect.isclass(cls):
        return None
    try:
        from namespace import _fill_global_params

        definition = cls()
        _fill_global_params(definition)
        text = definition.get_help()
    except Exception as exc:  # noqa: BLE001 - reported as the description's absence
        sys.stderr.write(f"describe: {module.__name__}: get_help() failed: {exc!r}\n")
        return None
    return text if isinstance(text, str) else None


def import_error(exc, path, roots):
    """``{"line", "message", "structural"}`` of a failed import (line: in the module's file).

    ``structural``: the failure does not depend on the environment (a ``SyntaxError``, or an
    ``ImportError`` of an import statement), so a job would fail the same way.
    """
    cause = exc.__cause__ or exc.__context__ or exc
    line = None
    if isinstance(cause, SyntaxError) and cause.filename and _same(cause.filename, path):
        line = cause.lineno
    else:
        for frame in traceback.extract_tb(cause.__traceback__):
            if _same(frame.filename, path):
                line = frame.lineno
    message = f"{type(cause).__name__}: {cause}" if cause is not exc else str(exc)
    # a missing module, a bad relative import or bad syntax fails the same way in a job;
    # other exceptions may come from the simulated genie_python this process runs
    structural = isinstance(cause, SyntaxError) or _failed_import_statement(cause)
    return {"line": line, "message": message, "structural": structural}


def _failed_import_statement(exc):
    """True for an ImportError of the import system, not one that code raised itself.

    ``import x`` / ``from x import y`` set the error's ``name``; a bad relative import does
    not, but it is raised at the import statement. ``raise ImportError("needs the
    instrument")`` in a module's code may depend on the environment.
    """
    if not isinstance(exc, ImportError):
        return False
    if exc.name is not None:
        return True
    frames = traceback.extract_tb(exc.__traceback__)
    statement = (frames[-1].line or "") if frames else ""
    return statement.lstrip().startswith(("import ", "from "))


def _same(a, b):
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except (TypeError, ValueError):
        return False


def _function_like(value):
    if inspect.isclass(value) or inspect.ismodule(value):
        return False
    if inspect.isroutine(value) or isinstance(value, functools.partial):
        return True
    return callable(value) and hasattr(value, "__wrapped__")


def _instrument_file(value, roots):
    """True if the object (unwrapped) was defined in a file under a command directory."""
    target = value.func if isinstance(value, functools.partial) else value
    try:
        target = inspect.unwrap(target)
    except ValueError:
        pass
    target = getattr(target, "__func__", target)
    try:
        source = inspect.getsourcefile(target)
    except TypeError:
        source = None
    if source is None:
        module = sys.modules.get(getattr(target, "__module__", None) or "")
        source = getattr(module, "__file__", None)
    if not source:
        return False
    real = os.path.realpath(source)
    return any(real == root or real.startswith(root + os.sep) for root in roots)


def describe_object(value):
    """``{"params", "doc", "file", "line", "partial"}`` of a function-like object."""
    try:
        signature = inspect.signature(value)
        params = [_param(p) for p in signature.parameters.values()]
    except (TypeError, ValueError):
        params = [
            {"name": "args", "kind": "var_positional", "annotation": None},
            {"name": "kwargs", "kind": "var_keyword", "annotation": None},
        ]
    doc = inspect.getdoc(value) or ""
    target = inspect.unwrap(value.func if isinstance(value, functools.partial) else value)
    target = getattr(target, "__func__", target)
    code = getattr(target, "__code__", None)  # cheaper than inspect.getsourcelines
    file = getattr(code, "co_filename", None)
    line = getattr(code, "co_firstlineno", None)
    return {
        "params": params,
        "doc": doc[:MAX_DOC],
        "file": file,
        "line": line,
        "partial": isinstance(value, functools.partial),
    }


def _param(parameter):
    entry = {
        "name": parameter.name,
        "kind": parameter.kind.name.lower(),
        "annotation": _annotation(parameter.annotation),
    }
    if parameter.default is not inspect.Parameter.empty:
        entry.update(_default(parameter.default))
    return entry


def _annotation(annotation):
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type) and annotation.__module__ == "builtins":
        return annotation.__qualname__
    return inspect.formatannotation(annotation)


def _default(value):
    """``{"default": JSON value}`` for plain data, else ``{"default_text": repr}``."""
    if isinstance(value, enum.Enum):
        return {"default_text": f"{type(value).__name__}.{value.name}"}
    if isinstance(value, (bool, int, float, str, type(None), list, tuple, dict)):
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            pass
        else:
            return {"default": json.loads(text)}
    text = getattr(value, "__qualname__", None) if callable(value) else None
    return {"default_text": (text or _ADDRESS.sub("", repr(value)))[:200]}


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
"""Memory addresses in reprs: left out so the description is the same at every import."""
