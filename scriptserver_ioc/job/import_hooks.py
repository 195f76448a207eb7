"""Call a function on a module right after it is imported, whoever imports it.

Runs inside job processes: standard library only, Python 3.8+, imports nothing from the rest
of the package. Used by ``_genie`` (genie_python's pause points and exceptions in jobs) and
``sim_patches`` (interception in dry runs).

Duck-typed (no ``importlib.abc`` base classes): importing importlib.abc costs milliseconds of
every job's start-up.
"""

from __future__ import annotations

import sys


class AfterImportFinder:
    """Meta path finder that hooks the imports of the modules named in ``hooks``.

    It finds nothing itself: for a hooked name it asks the other finders on
    ``sys.meta_path`` for the spec and wraps the spec's loader, so ``hooks[name](module)``
    runs once the module's code has run. A module whose loader has no ``exec_module`` is
    imported without its hook.

    Args:
        hooks: full module name -> function called with the module.
    """

    def __init__(self, hooks):
        self.hooks = hooks

    def find_spec(self, fullname, path, target=None):
        """The other finders' spec of a hooked module, with its loader wrapped; else None."""
        hook = self.hooks.get(fullname)
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


class _HookedLoader:
    """Delegates to the real loader, then calls the hook with the fresh module.

    The module's ``__loader__`` and ``__spec__.loader`` are the real loader (what the module
    sees of its loader is as without the hook); anything else asked of this wrapper is
    answered by the real loader.
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

    def __getattr__(self, name):
        loader = self.__dict__.get("_loader")
        if loader is None:
            raise AttributeError(name)
        return getattr(loader, name)


def hook_imports(hooks):
    """Hook future imports of the modules named in ``hooks`` (first on ``sys.meta_path``).

    A finder already installed with the same ``hooks`` object is kept, not doubled. Modules
    already imported are not touched: call their hooks yourself.

    Args:
        hooks: full module name -> function called with the module right after its import.

    Returns:
        The finder (new, or the one already installed for ``hooks``).
    """
    for finder in sys.meta_path:
        if isinstance(finder, AfterImportFinder) and finder.hooks is hooks:
            return finder
    finder = AfterImportFinder(hooks)
    sys.meta_path.insert(0, finder)
    return finder
