"""State of a dry run: virtual clock, timeline, intercepted writes, simulated job API.

Runs inside the dry-run process (``simulate.py``): standard library only, Python 3.8+.
"""

from __future__ import annotations

import enum
import io
import json
import math
import time

from sim_genie import BeamModel

OUTPUT_TAIL = 16384  # contract.limits.OUTPUT_TAIL_BYTES (job/ imports nothing of the server)


class DryRunStopped(BaseException):
    """Raised in the job when the dry run's real-time limit is reached."""


class InvalidArguments(Exception):
    """A command's validate companion rejected the arguments a job passed."""


MAX_CALLS = 1000
"""Distinct command calls a dry run reports for checking."""

SAME_MOMENT = 0.05
"""Seconds of real time within which consecutive steps count as one moment."""


class Clock:
    """Virtual clock: real time since the job started plus the time skipped."""

    def __init__(self):
        self.real_time, self.real_monotonic = time.time, time.monotonic
        self.real_sleep = time.sleep
        self.offset = 0.0
        self._start, self._base = self.real_monotonic(), 0.0

    def now(self):
        """Virtual seconds since the job started."""
        return self.real_monotonic() - self._start + self.offset - self._base

    def advance(self, seconds):
        """Skip ``seconds`` of virtual time."""
        self.offset += float(seconds)

    def restart(self):
        """Start counting from zero (after the prelude); keeps time.monotonic monotonic."""
        self._start, self._base = self.real_monotonic(), self.offset


class Tail(io.TextIOBase):
    """Keeps the last characters written (the job's stdout and stderr)."""

    def __init__(self, limit=4 * OUTPUT_TAIL):
        self.limit, self.parts, self.size = limit, [], 0

    def write(self, text):
        """Keep ``text`` (the oldest text is dropped beyond the limit)."""
        text = str(text)
        self.parts.append(text)
        self.size += len(text)
        if self.size > 2 * self.limit:
            joined = "".join(self.parts)[-self.limit :]
            self.parts, self.size = [joined], len(joined)
        return len(text)

    def text(self, limit=OUTPUT_TAIL):
        """The last ``limit`` characters written."""
        return "".join(self.parts)[-limit:]


def jsonable(value, depth=0):
    """A JSON-safe, bounded copy of a written value."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return value[:1000]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value[:1000]).decode("latin-1")
    if isinstance(value, enum.Enum):
        return value.name
    if hasattr(value, "tolist") and depth < 3:
        return jsonable(value.tolist(), depth + 1)
    if isinstance(value, (list, tuple)) and depth < 3:
        items = [jsonable(v, depth + 1) for v in value[:100]]
        return items + (["..."] if len(value) > 100 else [])
    if isinstance(value, dict) and depth < 3:
        return {str(k): jsonable(v, depth + 1) for k, v in list(value.items())[:100]}
    return repr(value)[:200]


def plain(value, depth=0):
    """True for values a JSON copy keeps the meaning of (literals, lists, dicts, enums)."""
    if value is None or isinstance(value, (bool, int, float, str, enum.Enum)):
        return True
    if depth > 5:
        return False
    if isinstance(value, (list, tuple)):
        return len(value) <= 100 and all(plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return len(value) <= 100 and all(
            isinstance(k, str) and plain(v, depth + 1) for k, v in value.items()
        )
    return False


def call_text(name, args, kwargs):
    """``name(1, b=2)`` for steps, cut to 120 characters."""
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    text = "{}({})".format(name, ", ".join(parts))
    return text if len(text) <= 120 else text[:117] + "..."


class Simulation:
    """Shared state of the dry run: clock, timeline, intercepted writes, stop request."""

    def __init__(self, source, max_steps, max_writes, beam=None):
        self.clock = Clock()
        self.lines = source.splitlines()
        self.max_steps, self.max_writes = max_steps, max_writes
        self.steps, self.writes, self.notes, self.warnings = [], [], [], []
        self.calls, self._call_keys = [], set()
        self.beam = BeamModel(beam, self)
        self.truncated = False
        self.line = None
        self._last_plain = False
        self._offset_at_last = 0.0
        self.stop_requested = False
        self.isolation = None
        """The ``sim_isolation.Isolation`` of the dry run (set by ``simulate.Run``)."""

    def reset(self):
        """Forget what the prelude did; the job starts at virtual time 0."""
        self.clock.restart()
        self.steps, self.writes, self.warnings, self.calls = [], [], [], []
        self._call_keys = set()
        self.truncated, self.line, self._last_plain = False, None, False

    def _append(self, step):
        if len(self.steps) >= self.max_steps:
            self.truncated = True
            return
        self.steps.append(step)

    def _same_moment(self, t):
        """True if nothing happened since the last plain step worth a step of its own.

        No virtual time was skipped and next to no real time passed: a few ms of computing
        under load must not split the timeline.
        """
        return (
            self._last_plain
            and self.steps
            and self.clock.offset == self._offset_at_last
            and t - self.steps[-1]["t"] < SAME_MOMENT
        )

    def line_event(self, line):
        """The job reached ``line``: a plain step, coalesced with one at the same moment."""
        self.line = line
        t = round(self.clock.now(), 3)
        text = self.lines[line - 1].strip()[:80] if 0 < line <= len(self.lines) else ""
        if self._same_moment(t):
            self.steps[-1]["line"], self.steps[-1]["what"] = line, text
            return
        self._append({"line": line, "t": t, "what": text})
        self._last_plain, self._offset_at_last = True, self.clock.offset

    def step(self, what):
        """A step that is not just a line: a sleep, a command, a write."""
        t = round(self.clock.now(), 3)
        if self._same_moment(t) and self.steps[-1]["line"] == self.line:
            self.steps.pop()  # the event says more than the bare line
        self._last_plain = False
        self._append({"line": self.line, "t": t, "what": what})

    def write(self, pv, value, via):
        """Record an intercepted write (not sent)."""
        value = jsonable(value)
        t = round(self.clock.now(), 3)
        if len(self.writes) < self.max_writes:
            self.writes.append(
                {"pv": str(pv), "value": value, "t": t, "via": via, "line": self.line}
            )
        else:
            self.truncated = True
        shown = json.dumps(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        self.step(f"write {pv} = {shown} (not sent; {via})")

    def note(self, text):
        """Something the user should know about the simulation itself."""
        self.notes.append(text)

    def warn(self, text):
        """Something about the job that will work in the dry run but deserves a look."""
        if text not in self.warnings and len(self.warnings) < 100:
            self.warnings.append(text)

    def record_call(self, name, args, kwargs):
        """A catalogue command called by the job, with its arguments as passed.

        The server checks them against the command's signature, as a command job's are.
        """
        if not plain([args, kwargs]):
            return  # objects the server could not rebuild: checked in the job only
        entry = {
            "name": name,
            "line": self.line,
            "args": jsonable(list(args)),
            "kwargs": jsonable(dict(kwargs)),
        }
        key = json.dumps([name, entry["args"], entry["kwargs"]], sort_keys=True, default=repr)
        if key not in self._call_keys and len(self.calls) < MAX_CALLS:
            self._call_keys.add(key)
            self.calls.append(entry)

    def check_stop(self):
        """Raise DryRunStopped once the real-time limit is reached."""
        if self.stop_requested:
            raise DryRunStopped()


def make_backend(sim, base):
    """The job API backend of a dry run (virtual sleep, simulating() is True)."""

    class SimulatedBackend(base):
        def progress(self, percent, message=""):
            sim.step(f"progress {percent:g} % {message}".rstrip())

        def message(self, text):
            sim.step(f"message: {text}")

        def pause_point(self):
            sim.check_stop()

        def sleep(self, seconds):
            sim.step(f"sleep {seconds:g} s")
            sim.clock.advance(seconds)
            sim.check_stop()

        def simulating(self):
            return True

        def beam_wait(self, uamps=None, frames=None, mevents=None):
            seconds = sim.beam.wait_seconds(uamps, frames, mevents, counted=False)
            if seconds:
                sim.step(f"wait on beam {seconds:g} s (beam model)")
                sim.clock.advance(seconds)
            sim.check_stop()
            return seconds

    return SimulatedBackend()
