"""What finished jobs teach the estimates: start-up overhead and the beam really delivered.

A pre-flight estimate is the virtual duration of a dry run (``simulated`` in the job's
pre-flight record): the job's own code, its sleeps, declared estimates and waits on beam by
the beam model. A real run also starts a process, imports the commands and runs the
prelude, and the beam it waits for comes at whatever rate the accelerator gives. After each
job that ended ``DONE`` with a successful pre-flight, ``observations`` compares its real
duration with its dry run and records, in the same store as learned durations (the last
``HISTORY_KEEP`` of each key):

- ``OVERHEAD``: seconds a job took beyond its simulated duration, for jobs that do not wait
  on beam (start-up, hand-over, the end of the process); its median is added to every
  estimate that is not itself measured (``declared`` and ``dry-run``);
- ``RATES``: for a job whose beam waits were all of one kind (µA·h, frames or Mevents), the
  rate it really got: the amount over the real time its waits took (its duration less its
  non-beam simulated time and the overhead). The median of each rate is the beam model's
  value in later dry runs (``learned from N runs``), after a live PV and before the option
  and the ISIS default. So a script's estimate scales with the beam its waits ask for at
  the rate earlier runs saw, and ``waitfor_mevents`` uses the event rate learned from
  earlier runs.

Pure functions; the store is passed in (``DurationHistory``).
"""

from __future__ import annotations

from typing import Any

from scriptserver_ioc.validate.estimates import HISTORY_KEEP, DurationHistory, median_duration

OVERHEAD = "learned: job overhead seconds"
RATES = {
    "current": ("uamps", 3600.0, "learned: beam uA"),
    "frame_rate": ("frames", 1.0, "learned: beam frames per second"),
    "event_rate": ("mevents", 3600.0, "learned: beam Mevents per hour"),
}
"""Beam model value -> (amount waited for, seconds per unit of its time, store key)."""
MAX_OVERHEAD = 120.0
"""An observation above this is not start-up overhead (a job that waited on something the
dry run does not model): ignored."""
VERDICTS_LEARNED = ("ok", "warnings")


def learned_overhead(history: DurationHistory | None) -> float:
    """Median learned overhead per job in seconds (0 without observations)."""
    if history is None:
        return 0.0
    return median_duration(history.durations(OVERHEAD)) or 0.0


def learned_beam(history: DurationHistory | None) -> dict[str, Any]:
    """Beam model options learned from earlier runs, for the values observed.

    For example ``{"event_rate": 95.0, "event_rate_source": "learned from 3 runs"}``.
    """
    options: dict[str, Any] = {}
    if history is None:
        return options
    for name, (_, _, key) in RATES.items():
        runs = [r for r in history.durations(key) if r > 0]
        rate = median_duration(runs)
        if rate is not None:
            options[name] = rate
            count = len(runs[-HISTORY_KEEP:])
            options[name + "_source"] = f"learned from {count} run{'s' if count != 1 else ''}"
    return options


def simulated_parts(record: dict[str, Any] | None) -> tuple[float, dict[str, float]] | None:
    """``(simulated seconds not spent on beam, {amount: waited})`` of a successful pre-flight.

    None when the record says nothing usable (no pre-flight, failed, no simulated time).
    """
    if not isinstance(record, dict) or record.get("verdict") not in VERDICTS_LEARNED:
        return None
    simulated = record.get("simulated", record.get("estimate"))
    if not isinstance(simulated, (int, float)) or simulated < 0:
        return None
    waited = ((record.get("beam") or {}).get("waited")) or {}
    beam_seconds = float(waited.get("seconds") or 0.0)
    amounts = {
        unit: float(waited[unit])
        for unit in ("uamps", "frames", "mevents")
        if isinstance(waited.get(unit), (int, float)) and waited[unit] > 0
    }
    return max(0.0, float(simulated) - beam_seconds), amounts


def observations(job: dict[str, Any], elapsed: float, overhead: float) -> list[tuple[str, float]]:
    """What a job that ended DONE after `elapsed` s teaches: ``[(store key, value)]``.

    Args:
        job: the job record, with its ``preflight`` record.
        elapsed: its real duration in seconds (paused time excluded).
        overhead: the overhead learned so far (seconds per job).
    """
    parts = simulated_parts(job.get("preflight"))
    if parts is None or elapsed <= 0:
        return []
    work, amounts = parts
    if not amounts:
        extra = elapsed - work
        return [(OVERHEAD, max(0.0, extra))] if extra <= MAX_OVERHEAD else []
    if len(amounts) != 1:
        return []  # waits of several kinds: which rate took the time is unknowable
    ((unit, amount),) = amounts.items()
    beam_seconds = elapsed - work - overhead
    if beam_seconds <= 0.05:
        return []
    per, key = next((p, k) for u, p, k in RATES.values() if u == unit)
    return [(key, amount * per / beam_seconds)]
