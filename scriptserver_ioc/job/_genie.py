"""genie_python support inside job processes, without importing genie_python.

Runs inside job processes: standard library only, Python 3.8+.

Importing ``genie_python.genie`` costs about half a second (Channel Access set-up), so the
launcher never imports it. Instead it acts when genie_python is (or gets) used:

- exceptions raised: genie's ``@log_command_and_handle_exception`` swallows command errors
  unless ``genie_python.genie_api_setup._exceptions_raised`` is true (what
  ``g.toggle.exceptions_raised(True)`` sets). If the prelude already imported genie the
  flag is set before the job runs; otherwise an import hook sets it the moment the job (or
  a command) imports genie, so a failing genie command fails the job.
- pause points: ``genie_python.utilities.check_break(level)``, called in genie's wait
  loops, becomes ``scriptserver.pause_point()``. The function's code object is replaced,
  so modules that did ``from genie_python.utilities import check_break`` before the patch
  get it too.
"""

from __future__ import annotations

import sys

UTILITIES = "genie_python.utilities"
API_SETUP = "genie_python.genie_api_setup"


def _check_break_as_pause_point(level=None):
    """genie_python's check_break, replaced inside script-server jobs."""
    import scriptserver

    scriptserver.pause_point()


def patch_check_break(module) -> None:
    """Make ``module.check_break`` a script-server pause point (idempotent)."""
    original = getattr(module, "check_break", None)
    if original is None or getattr(original, "_scriptserver_patched", False):
        return
    try:
        original.__code__ = _check_break_as_pause_point.__code__
        original._scriptserver_patched = True
    except (AttributeError, TypeError, ValueError):
        _check_break_as_pause_point._scriptserver_patched = True
        module.check_break = _check_break_as_pause_point


def raise_exceptions(module) -> None:
    """Set genie's exceptions-raised flag (``g.toggle.exceptions_raised(True)``)."""
    module._exceptions_raised = True


_HOOKS = {UTILITIES: patch_check_break, API_SETUP: raise_exceptions}


class _HookedLoader:
    """Delegates to the real loader, then applies a hook to the fresh module.

    Duck-typed (no ``importlib.abc`` base): importing importlib.abc costs milliseconds of
    every job's start-up.
    """

    def __init__(self, loader, hook):
        self._loader = loader
        self._hook = hook

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self._loader
        self._hook(module)


class _GenieImportHook:
    """Meta path finder that hooks the genie_python modules we care about."""

    def find_spec(self, fullname, path, target=None):
        hook = _HOOKS.get(fullname)
        if hook is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _HookedLoader(spec.loader, hook)
                return spec
        return None


def install() -> str:
    """Apply the hooks to genie modules already imported and hook future imports.

    Returns:
        A short description of what was done, for the job's log on request.
    """
    done = []
    for name, hook in _HOOKS.items():
        module = sys.modules.get(name)
        if module is not None:
            hook(module)
            done.append(name)
    if len(done) < len(_HOOKS) and not any(
        isinstance(finder, _GenieImportHook) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _GenieImportHook())
    return "patched " + ", ".join(done) if done else "import hook installed"
