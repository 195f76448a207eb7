"""The job API, imported as ``scriptserver`` inside a job.

Runs inside job processes: standard library only, Python 3.8+, nothing imported from the
rest of the package. Every function dispatches to a backend object installed by whoever
runs the job with ``_set_backend``: the launcher installs the real one (reports to the
script server, honours pause and abort), the dry run a simulated one (virtual clock).
Outside a job (a genie_python console, a unit test) a plain fallback backend applies:
``progress`` and ``message`` print to stderr, ``sleep`` is ``time.sleep``.

Example (in a job)::

    import scriptserver
    for i, temperature in enumerate(temperatures):
        scriptserver.progress(100 * i / len(temperatures), f"T = {temperature} K")
        scriptserver.sleep(30)          # pausable and abortable
"""

from __future__ import annotations

import math
import sys
import time

__all__ = [
    "Backend",
    "JobAborted",
    "beam_wait",
    "dry_run_safe",
    "dry_run_stop",
    "message",
    "pause_point",
    "progress",
    "simulating",
    "sleep",
]


DRY_RUN_MARKER = "__scriptserver_dry_run__"
"""Attribute a command's function carries to say how dry runs treat it (``SAFE``, ``STOP``)."""
SAFE, STOP = "safe", "stop"


class JobAborted(BaseException):
    """Raised in a job at a pause point when the job is aborted.

    A ``BaseException`` (like ``KeyboardInterrupt``), so ``except Exception:`` in a script or
    a command does not swallow it, while ``finally:`` blocks and context managers still run.
    """


class Backend:
    """What the job API dispatches to; this base class is the fallback outside a job.

    Subclasses override all five methods. Arguments are already checked by the module
    functions (``percent`` a finite float, ``seconds`` a finite float >= 0, text a str).
    """

    def progress(self, percent: float, message: str = "") -> None:
        """Report the job's progress in percent and an optional message."""
        sys.stderr.write(f"progress: {percent:g} % {message}\n")

    def message(self, text: str) -> None:
        """Report a progress message without changing the percentage."""
        sys.stderr.write(f"message: {text}\n")

    def pause_point(self) -> None:
        """A place where a deferred pause or a soft abort may take effect."""

    def sleep(self, seconds: float) -> None:
        """Sleep, pausable and abortable."""
        time.sleep(seconds)

    def simulating(self) -> bool:
        """True during a dry run."""
        return False

    def beam_wait(self, uamps: float | None, frames: float | None, mevents: float | None) -> float:
        """Account for a wait on beam; only a dry run's backend does (by its beam model)."""
        return 0.0


_backend = Backend()


def _set_backend(backend: Backend) -> None:
    """Install the backend every API function dispatches to (launcher or dry run)."""
    global _backend
    _backend = backend


def _get_backend() -> Backend:
    """The backend in use (for tests and for the launcher's own checks)."""
    return _backend


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return number


def progress(percent: float, message: str = "") -> None:
    """Set the job's progress (``CURRENT:PROGRESS``) and message (``CURRENT:MESSAGE``).

    Args:
        percent: 0 to 100; values outside are clamped.
        message: short text shown with the progress, e.g. ``"run 3 of 10"``.

    Raises:
        TypeError: percent is not a number or message is not a str.
        ValueError: percent is NaN or infinite.
    """
    value = min(100.0, max(0.0, _number(percent, "progress percent")))
    if not isinstance(message, str):
        raise TypeError(f"progress message must be a str, got {message!r}")
    _backend.progress(value, message)


def message(text: str) -> None:
    """Set the job's progress message (``CURRENT:MESSAGE``) only.

    Raises:
        TypeError: text is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"message text must be a str, got {text!r}")
    _backend.message(text)


def pause_point() -> None:
    """Let a requested deferred pause or soft abort take effect here.

    Call it in long loops inside commands, whose lines are not pause points themselves.
    While the job is paused this call blocks; a soft abort raises ``JobAborted``.
    """
    _backend.pause_point()


def sleep(seconds: float) -> None:
    """Sleep for ``seconds``; can be paused and aborted, and is instant in a dry run.

    Time spent paused does not count: after a resume the remaining time is slept.

    Raises:
        TypeError: seconds is not a number.
        ValueError: seconds is negative, NaN or infinite.
        JobAborted: the job was aborted while sleeping.
    """
    value = _number(seconds, "sleep seconds")
    if value < 0:
        raise ValueError(f"sleep seconds must be >= 0, got {seconds!r}")
    _backend.sleep(value)


def simulating() -> bool:
    """True while the job runs as a dry run (simulation); False in a real run."""
    return bool(_backend.simulating())


def beam_wait(
    uamps: float | None = None, frames: float | None = None, mevents: float | None = None
) -> float:
    """In a dry run, count a wait on beam by the server's beam model; else do nothing.

    For commands that drive a data acquisition of their own (genie_python's waits are
    modelled already): call it in place of the wait when ``simulating()``. The dry run's
    clock advances by the time the beam model (``--beam-current``, ``--frame-rate``, the
    event rate, or what earlier runs taught) takes to deliver the amounts, and the
    estimate counts it.

    Args:
        uamps: proton charge to wait for, in µA·h.
        frames: good frames to wait for.
        mevents: millions of events to wait for.

    Returns:
        The virtual seconds counted (0.0 outside a dry run).

    Raises:
        TypeError: an amount is not a number.
        ValueError: an amount is negative, NaN or infinite.
    """
    amounts = []
    for value, what in ((uamps, "uamps"), (frames, "frames"), (mevents, "mevents")):
        if value is not None:
            value = _number(value, f"beam_wait {what}")
            if value < 0:
                raise ValueError(f"beam_wait {what} must be >= 0, got {value!r}")
        amounts.append(value)
    return float(_backend.beam_wait(*amounts))


def dry_run_safe(function):
    """Mark a command as safe to run for real in a dry run (a decorator).

    A dry run keeps a job from acting on the world: its file writes go to a scratch space,
    removals are not done, a program or network traffic ends the dry run (verdict
    ``unknown``). A command marked safe runs without that isolation (its file effects and
    programs happen, e.g. a cache it maintains, or a program that only reads); Channel
    Access writes are still recorded, not sent. Without effect in a real job.

    Example::

        @scriptserver.dry_run_safe
        def lookup_sample(name): ...
    """
    setattr(function, DRY_RUN_MARKER, SAFE)
    return function


def dry_run_stop(function):
    """Mark a command that a dry run must not go past (a decorator).

    A dry run that calls it stops there with the verdict ``unknown`` (``line 12 calls
    `reduce_run`, marked to stop dry runs; not checked past it``): for commands whose
    effects cannot be simulated and whose later lines depend on them. Without effect in a
    real job.
    """
    setattr(function, DRY_RUN_MARKER, STOP)
    return function
