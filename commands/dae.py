"""Data acquisition (DAE) commands of the demo instrument: runs and counting."""

import time
from typing import Optional

from _beamline import (
    beam_wait,
    load_state,
    message,
    pause_point,
    progress,
    simulating,
    sleep,
    update_state,
)

UAMPS_PER_SECOND = 2.0
"""Proton charge the demo beam delivers per second of wall time, in uA.h (an accelerated
beam: a real 40 uA beam takes 90 s per uA.h)."""


class RunStateError(RuntimeError):
    """The DAE is not in the state the command needs."""


def begin_run(title: str = "", period: int = 1, quiet: bool = False) -> int:
    """Starts a data collection run.

    Args:
        title: run title; empty keeps the current title.
        period: hardware period to count into.
        quiet: do not print the run number.

    Returns:
        int: the number of the run started.

    Examples:
        >>> begin_run("Fe3O4 10K Ei=25meV")
    """
    state = load_state()
    if state["run_state"] == "RUNNING":
        raise RunStateError(f"run {state['run_number']} is already running; end it first")
    number = int(state["run_number"]) + 1
    update_state(
        run_state="RUNNING",
        run_number=number,
        run_title=title or state["run_title"],
        run_started=time.time(),
        uamps=0.0,
    )
    if not quiet:
        message(f"Run {number} started: {title or state['run_title']!r} (period {period})")
    return number


def estimate_begin_run(title="", period=1, quiet=False):
    return 0.01  # a write of the demo DAE's state file


def validate_begin_run(title="", period=1, quiet=False):
    if period < 1:
        return f"period must be 1 or more, not {period}"
    return None


def end_run(save: bool = True) -> Optional[int]:
    """Ends the current run and saves its data.

    Args:
        save: save the data; False discards the run (like ``abort``).

    Returns:
        the number of the run ended, or None if no run was running.
    """
    state = load_state()
    if state["run_state"] != "RUNNING":
        message("No run to end")
        return None
    uamps = _charge(state)
    update_state(run_state="SETUP", uamps=uamps)
    verb = "ended and saved" if save else "discarded"
    message(f"Run {state['run_number']} {verb}: {uamps:.2f} uA.h")
    return int(state["run_number"])


def estimate_end_run(save=True):
    return 0.01


def waitfor_uamps(uamps: float, quiet: bool = False) -> None:
    """Waits until the current run has collected a proton charge.

    Args:
        uamps: proton charge to wait for, in uA.h.
        quiet: do not report progress messages.
    """
    state = load_state()
    if state["run_state"] != "RUNNING":
        raise RunStateError("waitfor_uamps needs a running run; call begin_run() first")
    if simulating():  # the server's beam model says how long (--beam-current, learned)
        beam_wait(uamps=max(0.0, uamps - _charge(state)))
        return
    while True:
        collected = _charge(load_state())
        if collected >= uamps:
            break
        if not quiet:
            progress(100.0 * collected / uamps, f"{collected:.2f} of {uamps:g} uA.h")
        pause_point()
        sleep(0.05)
    progress(100.0, f"{uamps:g} uA.h collected")


def estimate_waitfor_uamps(uamps, quiet=False):
    """Seconds to collect ``uamps`` at the demo beam current."""
    return float(uamps) / UAMPS_PER_SECOND


def validate_waitfor_uamps(uamps, quiet=False):
    if uamps <= 0:
        return f"uamps must be positive, not {uamps:g}"
    return None


def count(seconds: float = 2.0, title: str = "", save: bool = True) -> int:
    """Counts for a fixed time: begins a run, waits, ends it.

    Args:
        seconds: counting time in seconds.
        title: run title.
        save: save the data at the end.

    Returns:
        int: the run number.

    Examples:
        >>> count(2)
        >>> count(seconds=30, title="background")
    """
    number = begin_run(title, quiet=True)
    message(f"Counting run {number} for {seconds:g} s")
    try:
        if simulating():
            sleep(seconds)
        else:
            start = time.monotonic()
            while time.monotonic() - start < seconds:
                elapsed = time.monotonic() - start
                progress(100.0 * elapsed / seconds, f"run {number}: {elapsed:.1f} of {seconds:g} s")
                pause_point()
                sleep(min(0.1, seconds - elapsed))
    finally:
        end_run(save=save)
    return number


def estimate_count(seconds=2.0, title="", save=True):
    return float(seconds) + 0.02  # the counting time, begin_run and end_run


def validate_count(seconds=2.0, title="", save=True):
    if seconds <= 0:
        return f"seconds must be positive, not {seconds:g}"
    return None


def _charge(state):
    """Proton charge (uA.h) collected so far in the running run (demo accelerated beam)."""
    if state["run_state"] != "RUNNING" or not state["run_started"]:
        return float(state["uamps"])
    elapsed = time.time() - float(state["run_started"])
    return UAMPS_PER_SECOND * elapsed
