"""A job's matplotlib figures: no window, never blocking, saved as PNG with the job's record.

Runs inside job processes: standard library only, Python 3.8+. Nothing here imports
matplotlib: an import hook (``import_hooks``) selects the job's backend
(``scriptserver_mpl_backend``, beside this file) the moment the job imports matplotlib,
so a job that never plots pays nothing, and a subprocess of the job is left alone (an
``MPLBACKEND`` naming a module only job processes can import would break a child that
plots). The backend finds the running job's `Figures` as ``figures`` on the job API's
backend (``scriptserver._get_backend()``); a dry run's backend has none, so a dry run
never saves a figure.

Figures are saved by ``plt.show()`` and ``fig.show()`` (which return at once), by redraws
(``draw_idle``, what live plots call) at most every ``SAVE_INTERVAL`` seconds per figure,
and at the end of the job (figures still open and changed). Each figure keeps one file,
``figure-<n>.png`` in ``<logs>/job-<id>.plots/``, replaced atomically when it changes, so
a screen showing it never reads half a file.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import import_hooks

BACKEND = "module://scriptserver_mpl_backend"
SAVE_INTERVAL = 2.0
"""Shortest time between two saves of a figure by its redraws."""

_HOOKS = {}


def install() -> None:
    """Make matplotlib's backend the job's: now if matplotlib is imported, else when it is."""
    module = sys.modules.get("matplotlib")
    if module is not None:
        use_backend(module)
    else:
        _HOOKS["matplotlib"] = use_backend
        import_hooks.hook_imports(_HOOKS)


def use_backend(matplotlib) -> None:
    """Select the job's backend (switching pyplot if it is already imported)."""
    try:
        matplotlib.use(BACKEND, force=True)
    except Exception as exc:  # an unusual matplotlib: plotting as it would anyway
        sys.stderr.write(f"scriptserver: cannot select the job's plot backend: {exc}\n")


class Figures:
    """Saves the job's figures in ``directory`` and reports each file.

    Args:
        directory: where the PNG files go (made when the first one is saved).
        report: called with the path of every file saved (the server's ``plot`` message).

    Threading: figures may be saved from any thread (a live plot draws in the RunEngine's
    thread); one lock keeps the numbering and the files consistent.
    """

    def __init__(self, directory, report) -> None:
        self.directory = directory
        self._report = report
        self._lock = threading.Lock()
        self._count = 0
        self._last = {}

    def save(self, figure):
        """Save ``figure`` now; returns its path, or None if it could not be saved."""
        with self._lock:
            name = getattr(figure, "_scriptserver_png", None)
            first = name is None
            if first:
                self._count += 1
                name = f"figure-{self._count}.png"
            path = os.path.join(self.directory, name)
            temporary = f"{path}.{os.getpid()}.tmp"
            try:
                os.makedirs(self.directory, exist_ok=True)
                figure.savefig(temporary, format="png")
                os.replace(temporary, path)
            except Exception as exc:  # a full disk or a bad artist: the job goes on
                sys.stderr.write(f"scriptserver: could not save a figure as {path}: {exc}\n")
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
                return None
            figure._scriptserver_png = name
            figure.stale = False  # savefig leaves it set: later changes set it again
            self._last[name] = time.monotonic()
        if first:  # a line in the job's output (and the IBEX GUI's messages)
            print(f"scriptserver: figure saved: {path}", flush=True)
        self._report(path)
        return path

    def save_if_due(self, figure) -> None:
        """A redraw: save the figure unless it was saved less than SAVE_INTERVAL ago."""
        last = self._last.get(getattr(figure, "_scriptserver_png", None))
        if last is None or time.monotonic() - last >= SAVE_INTERVAL:
            self.save(figure)

    def save_open(self, changed_only: bool = False) -> None:
        """Save every open pyplot figure (only those changed since saved, if asked)."""
        pylab_helpers = sys.modules.get("matplotlib._pylab_helpers")
        if pylab_helpers is None:  # pyplot never used
            return
        managers = pylab_helpers.Gcf.get_all_fig_managers()
        for figure in [manager.canvas.figure for manager in managers]:
            saved = getattr(figure, "_scriptserver_png", None) is not None
            if not (changed_only and saved and not figure.stale):
                self.save(figure)
