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

The import hook is ``import_hooks.hook_imports`` (shared with the dry run's ``sim_patches``).
"""

from __future__ import annotations

import sys

import import_hooks

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
    if len(done) < len(_HOOKS):
        import_hooks.hook_imports(_HOOKS)  # once: a finder for _HOOKS is not doubled
    return "patched " + ", ".join(done) if done else "import hook installed"
