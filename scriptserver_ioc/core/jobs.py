"""Job records (their states are `contract.enums.JobState`)."""

from __future__ import annotations

import datetime as _dt
import json
import threading
from dataclasses import dataclass, field, fields
from typing import Any

from ..contract.enums import JobState
from .ports import FILE_TEXT, ScriptFile

_recording = threading.local()


def set_undo_log(undo: list | None) -> list | None:
    """Record how to undo every `Job.update` (and queue change) of this thread in `undo`.

    Used by the core while it decides (`core.decision.recording`); returns the previous log.
    """
    previous = getattr(_recording, "undo", None)
    _recording.undo = undo
    return previous


def undo_log() -> list | None:
    """The undo log of this thread's decision in progress, or None."""
    return getattr(_recording, "undo", None)


def now_iso(at: float | None = None) -> str:
    """A time as ISO 8601 with UTC offset and milliseconds.

    Args:
        at: seconds since the epoch (e.g. the core's clock); None: now.
    """
    if at is None:
        return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")
    return _dt.datetime.fromtimestamp(at, _dt.timezone.utc).isoformat(timespec="milliseconds")


def parse_iso(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 time written by `now_iso`."""
    return _dt.datetime.fromisoformat(text).timestamp()


@dataclass(eq=False, slots=True)  # no __dict__: a 10,000-job queue holds 10,000
class Job:
    """One job: what to run and what happened to it.

    The attributes are exactly the keys of the job record of the Channel Access contract;
    `to_dict` gives that record. `json_text` caches its serialisation, since the queue PV
    joins thousands of them; every mutation must go through `update` to drop the cache.
    Jobs compare by identity: the queue searches lists of thousands of them.
    """

    id: int
    name: str
    kind: str
    command: str | None = None
    args: dict[str, Any] | None = None
    script: str | None = None
    file: str | None = None
    blackbox: bool = False
    tags: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    rerun_of: int | None = None
    state: JobState = JobState.QUEUED
    created: str = field(default_factory=now_iso)
    started: str | None = None
    finished: str | None = None
    elapsed: float | None = None
    estimate: float | None = None
    estimate_source: str = "none"
    progress: float | None = None
    line: int | None = None
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    exit_code: int | None = None
    preflight: dict[str, Any] | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)
    _json: str | None = field(default=None, repr=False, compare=False)
    _summary: str | None = field(default=None, repr=False, compare=False)
    _script_file: ScriptFile | None = field(default=None, repr=False, compare=False)

    @property
    def file_text(self) -> ScriptFile | None:
        """A `file` job's script as last read (off the core lock, `core.script_files`).

        Not part of the record: the job carries it so that nothing reads the file again
        under the core lock (checks, pre-flight, start, VALIDATE's dry run use it).
        """
        return self._script_file

    def carry(self, script: ScriptFile | None) -> None:
        """Carry `script` as this job's script text (undone with the decision, if any)."""
        undo = getattr(_recording, "undo", None)
        if undo is not None:
            old = self._script_file
            undo.append(lambda: setattr(self, "_script_file", old))
        self._script_file = script

    def check_record(self) -> dict[str, Any]:
        """The record the checks get: the job record, and a `file` job's script text."""
        record = self.to_dict()
        if self._script_file is not None and self._script_file.problem is None:
            record[FILE_TEXT] = self._script_file.text
        return record

    def update(self, **changes: Any) -> None:
        """Change attributes and drop the cached serialisation."""
        for key in changes:
            if key not in _FIELD_NAMES:
                raise AttributeError(f"job records have no field {key!r}")
        undo = getattr(_recording, "undo", None)
        if undo is not None:
            old = {key: getattr(self, key) for key in changes}
            undo.append(lambda: self._restore(old))
        for key, value in changes.items():
            setattr(self, key, value)
        self._json = self._summary = None

    def _restore(self, old: dict[str, Any]) -> None:
        for key, value in old.items():
            setattr(self, key, value)
        self._json = self._summary = None

    def to_dict(self) -> dict[str, Any]:
        """The job record as the JSON object of the contract."""
        record = {name: getattr(self, name) for name in _FIELD_NAMES}
        record["state"] = self.state.value
        return record

    def json_text(self) -> str:
        """The job record as ASCII JSON text (cached until the next `update`)."""
        if self._json is None:
            self._json = json.dumps(self.to_dict(), ensure_ascii=True, separators=(",", ":"))
        return self._json

    def summary_text(self) -> str:
        """The job's entry of `QUEUE:SUMMARY` as ASCII JSON (cached until the next `update`).

        ``{"id", "name", "kind", "estimate"}``: what a queue list shows; the full record
        is in `QUEUE`.
        """
        if self._summary is None:
            summary = {"id": self.id, "name": self.name, "kind": self.kind}
            summary["estimate"] = self.estimate
            self._summary = json.dumps(summary, ensure_ascii=True, separators=(",", ":"))
        return self._summary

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Job:
        """Rebuild a job from its record (as stored)."""
        known = {k: v for k, v in record.items() if k in _FIELD_NAMES}
        known["state"] = JobState(known.get("state", "QUEUED"))
        return cls(**known)


_FIELD_NAMES = tuple(f.name for f in fields(Job) if not f.name.startswith("_"))
