"""The planned night: when each queued job starts and finishes, from the estimates.

The plan starts now plus the current job's remaining time; each job then takes its
estimate. A job without an estimate counts 0 s and makes every later time a lower bound
(marked `>=`), as `QUEUE:ETA` does on the server.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import time
from dataclasses import dataclass
from typing import Any

from ..contract.texts import preflight_text
from .client import ScriptServerClient
from .formatting import clock, duration

BAR_WIDTH = 48
"""Columns of the terminal timeline."""


@dataclass
class PlannedJob:
    """One queued job on the plan (epoch seconds)."""

    job: dict[str, Any]
    start: float
    finish: float
    at_least: bool
    """True if an earlier (or this) job's duration is unknown: the times are lower bounds."""


def plan(queue: list[dict[str, Any]], now: float, remaining: float | None) -> list[PlannedJob]:
    """Planned start and finish of every queued job, in run order.

    Args:
        queue: the queued job records in run order.
        now: the current time (epoch seconds).
        remaining: the running job's remaining seconds; None or negative when unknown
            (counted 0, and every time after it is a lower bound); 0 when none runs.
    """
    unknown = remaining is None or remaining < 0
    t = now + (0.0 if unknown else remaining)
    planned = []
    for job in queue:
        estimate = job.get("estimate")
        if estimate is None or estimate < 0:
            unknown = True
            estimate = 0.0
        planned.append(PlannedJob(job, t, t + estimate, unknown))
        t += estimate
    return planned


def current_remaining(client: ScriptServerClient) -> float | None:
    """The running job's remaining seconds (0 when none runs, None when unknown)."""
    if client.get("CURRENT:ID") == 0:
        return 0.0
    remaining = client.get("CURRENT:REMAINING")
    return None if remaining < 0 else float(remaining)


def terminal_timeline(planned: list[PlannedJob], now: float, width: int = BAR_WIDTH) -> list[str]:
    """Lines of a bar chart of the plan: one row per job, `?` for an unknown duration."""
    if not planned:
        return []
    end = max(p.finish for p in planned)
    span = max(end - now, 1.0)
    rows = []
    for p in planned:
        left = int((p.start - now) / span * width)
        size = int(round((p.finish - p.start) / span * width))
        unknown = p.job.get("estimate") is None or p.job["estimate"] < 0
        bar = "?" if unknown else "█" * max(1, size)
        rows.append(f"{p.job['id']:>6} {p.job['name'][:24]:<24} |{(' ' * left + bar)[: width + 1]}")
    axis = f"{'':31}{clock(now)}{'':{max(1, width - 16)}}{clock(end)}"
    return rows + [axis]


def show_queue(client: ScriptServerClient, args: argparse.Namespace) -> int:
    """The queue with planned start and finish per job, and the plan as a timeline."""
    from .views import print_json, table

    now = time.time()
    queue = client.queue()
    planned = plan(queue, now, current_remaining(client))
    if args.json:
        print_json(
            [
                {
                    **p.job,
                    "planned_start": p.start,
                    "planned_finish": p.finish,
                    "at_least": p.at_least,
                }
                for p in planned
            ]
        )
        return 0
    rows = [
        [
            p.job["id"],
            p.job["name"],
            p.job["kind"],
            duration(p.job["estimate"]),
            ("≥ " if p.at_least else "") + clock(p.start),
            ("≥ " if p.at_least else "") + clock(p.finish),
            len(p.job["warnings"]) or "",
            preflight_text(p.job.get("preflight"), 60),
            preflight_estimate(p.job.get("preflight")),
        ]
        for p in planned
    ]
    columns = ["id", "name", "kind", "estimate", "start", "finish", "warnings", "pre-flight"]
    table("queue", [*columns, "dry-run estimate"], rows)
    if planned:
        print("\n".join(terminal_timeline(planned, now)))
        print(f"queue finishes at {client.get('QUEUE:FINISH')}")
    if args.png:
        plot_png(planned, now, args.png)
        print(f"timeline written to {args.png}")
    return 0


def preflight_estimate(record: dict[str, Any] | None) -> str:
    """The pre-flight's own estimate (its dry run's virtual duration), '' if none.

    A dry run stopped by an effect counted only up to it: `≥ 30 s (to line 12)`.
    """
    if not record:
        return ""
    if record.get("estimate") is not None:
        return duration(record["estimate"])
    partial = record.get("partial_estimate")
    if isinstance(partial, dict) and partial.get("seconds") is not None:
        to_line = f" (to line {partial['line']})" if partial.get("line") else ""
        return f"≥ {duration(partial['seconds'])}{to_line}"
    return ""


def plot_png(planned: list[PlannedJob], now: float, path: str) -> None:
    """Write the plan as a PNG Gantt chart (needs matplotlib: the `plot` extra)."""
    try:
        import matplotlib
    except ImportError:
        from .client import ClientError

        raise ClientError("--png needs matplotlib: pip install 'scriptserver_ioc[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    days = 86400.0
    figure, axes = plt.subplots(figsize=(10, 1 + 0.4 * max(1, len(planned))))
    for row, p in enumerate(planned):
        length = max(p.finish - p.start, 1.0)
        colour = "tab:grey" if p.job.get("estimate") in (None, -1) else "tab:blue"
        axes.broken_barh(
            [(mdates.date2num(_dt.datetime.fromtimestamp(p.start)), length / days)],
            (row - 0.4, 0.8),
            color=colour,
        )
    axes.set_yticks(range(len(planned)), [f"{p.job['id']} {p.job['name'][:30]}" for p in planned])
    axes.invert_yaxis()
    axes.xaxis_date()
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    axes.set_title("planned queue (grey: no estimate)")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
