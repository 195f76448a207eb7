"""matplotlib backend of script-server jobs (``module://scriptserver_mpl_backend``).

Loaded by matplotlib only, in job processes (``_plots`` selects it). Renders with Agg: no
window ever opens, ``plt.show()`` never blocks. Figures are saved as PNG files with the
job's record by the job's ``_plots.Figures`` (found on the job API's backend); where there
is none (a dry run, or matplotlib used outside a job) nothing is saved.
"""

from __future__ import annotations

import scriptserver
from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg


def _figures():
    """The running job's ``_plots.Figures``, or None (dry run, outside a job)."""
    return getattr(scriptserver._get_backend(), "figures", None)


class FigureManager(FigureManagerBase):
    """A figure's manager: ``show`` saves it instead of opening a window."""

    def show(self):
        """``fig.show()``: save the figure and return at once."""
        figures = _figures()
        if figures is not None:
            figures.save(self.canvas.figure)

    @classmethod
    def pyplot_show(cls, *, block=None):
        """``plt.show()``: save the open figures and return at once."""
        figures = _figures()
        if figures is not None:
            figures.save_open()


class FigureCanvas(FigureCanvasAgg):
    """Agg canvas whose redraws (what live plots call) also save the figure, now and then."""

    manager_class = FigureManager

    def draw_idle(self, *args, **kwargs):
        """Draw (Agg draws at once), then save the figure if its last save is old enough."""
        super().draw_idle(*args, **kwargs)
        figures = _figures()
        if figures is not None:
            figures.save_if_due(self.figure)


def show(*args, **kwargs):
    """``plt.show()`` for matplotlib versions that look for a module-level ``show``."""
    FigureManager.pyplot_show()
