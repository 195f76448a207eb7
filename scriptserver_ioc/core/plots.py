"""Figures jobs saved: `CURRENT:PLOT` (the newest) and `JOB:PLOTS` (the selected job's).

A job's matplotlib figures are saved by the job process as
`<data-dir>/logs/job-<id>.plots/figure-<n>.png` (docs/bluesky.md), which reports each file
(runner event `plot`). `JOB:OUTPUT:SELECT` lists the selected job's figures from its
folder (`job_output.select_output`, through the `JobFiles` port); later figures of that
job are added as reported.
"""

from __future__ import annotations

from typing import Any


def plotted(server: Any, job_id: int, path: str) -> None:
    """A job saved a figure (lock held): the newest, and in the selected job's list."""
    server.newest_plot = path
    selected, figures = getattr(server, "selected_plots", (0, []))
    if selected == job_id and path not in figures:
        server.selected_plots = (job_id, [*figures, path])
    server.touch("plots")


def plots_view(server: Any) -> tuple[str, int, list[str]]:
    """(newest figure, id of the selected job, its figures) (takes the lock)."""
    with server.lock:
        selected, figures = getattr(server, "selected_plots", (0, []))
        return getattr(server, "newest_plot", ""), selected, list(figures)
