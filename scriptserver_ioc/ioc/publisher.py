"""Publishing the core's state to PVs: small values at once, large JSON coalesced.

The core tells the publisher which topics changed. Small PVs (counts, state, scalars of the
current job, replies) are set in the caller's thread before the write returns, so a put
with callback completes after they are visible. Large JSON PVs (the queue, the history,
the catalogue) are rebuilt by a publishing thread, outside the core's lock; a burst of
edits produces few large updates. A client read of a large PV with a pending update builds
it at once (`flush_for_read`), so a read after a completed put is always current.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..core.job_output import selected_output
from ..pvnames import LAST_STATES, QUEUE_SLOTS
from ..validate.estimates import queue_finish
from .encoding import TAIL_BYTES, ascii_text, char_array, to_json, zhex
from .pvtable import BY_NAME, LAST_STATE_NONE

log = logging.getLogger(__name__)

STRING_CHARS = 39
"""Characters a CA DBR_STRING holds (40 with the terminator)."""

_JSON_GROUPS = (
    "replies",
    "validate",
    "queue_json",
    "history_json",
    "commands_json",
    "current_json",
    "status",
)
"""Groups of JSON PVs; each has a twin `<group>_zhex` for the `:ZHEX` PVs, so that a client
reading or watching only one form never pays for the other."""


def _with_zhex(groups: tuple[str, ...]) -> tuple[str, ...]:
    return groups + tuple(f"{g}_zhex" for g in groups if g in _JSON_GROUPS)


TOPIC_GROUPS: dict[str, tuple[str, ...]] = {
    topic: _with_zhex(groups)
    for topic, groups in {
        "queue": ("counts", "queue_json", "status"),
        "current": ("current_scalars", "current_json", "counts", "status"),
        "line": ("current_scalars", "current_json"),
        "progress": ("current_scalars", "current_json", "counts"),
        "state": ("state", "status", "current_scalars"),
        "settings": ("state", "status"),
        "history": ("history_json", "last", "status"),
        "last": ("last",),
        "replies": ("replies",),
        "last_error": ("last_error",),
        "validate": ("validate",),
        "output": ("output",),
        "script": ("script",),
        "log": ("log",),
        "job_output": ("job_output",),
        "commands": ("commands_counts", "commands_json", "status"),
        "tick": ("heartbeat", "current_scalars", "counts", "status"),
    }.items()
}
"""Topic the core reports -> groups of PVs it affects."""

_INTERVALS = {
    "queue_json": 0.05,
    "history_json": 0.05,
    "commands_json": 0.0,
    "script": 0.0,
    "current_json": 0.1,
    "status": 0.1,
    "log": 0.1,
    "output": 0.2,
}
DEFERRED_INTERVALS: dict[str, float] = {
    name: interval for group, interval in _INTERVALS.items() for name in _with_zhex((group,))
}
"""Groups built by the publishing thread, with the least time between two builds."""


class Publisher:
    """Turns core state into PV values.

    Args:
        driver: the pcaspy Driver (setParam, updatePVs).
        core: the `core.ScriptServer`.
        lock: the lock around every setParam/updatePVs.
        after_update: called after updatePVs from a thread other than the server's (the kick).
    """

    def __init__(
        self, driver: Any, core: Any, lock: threading.RLock, after_update: Callable[[], None]
    ) -> None:
        self.driver = driver
        self.core = core
        self.lock = lock
        self.after_update = after_update
        self.server_thread = threading.get_ident()
        self.heartbeat = 0
        self._published: dict[str, bytes] = {}
        self._versions: dict[str, int] = {}
        self._json_cache: dict[str, tuple[int, dict[str, str]]] = {}
        self._pending: set[str] = set()
        self._last_build: dict[str, float] = {}
        self._build_locks = {group: threading.Lock() for group in DEFERRED_INTERVALS}
        self._immediate_lock = threading.Lock()
        self._wake = threading.Event()
        self._running = False
        self._soon: list[Callable[[], None]] = []
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Publish everything once, then start the publishing and heartbeat threads."""
        self.server_thread = threading.get_ident()
        for group, builder in _BUILDERS.items():
            names = list(builder(self))
            _GROUP_PVS[group] = names
            _PV_GROUP.update(dict.fromkeys(names, group))
        self.publish_groups(set(_BUILDERS))
        self._running = True
        for target, name in ((self._run, "publisher"), (self._beat, "heartbeat")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the threads."""
        self._running = False
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=2)

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the publishing thread (e.g. completing an asynchronous put)."""
        with self.lock:
            self._soon.append(callback)
        self._wake.set()

    # -- notifications ---------------------------------------------------------------------

    def changed(self, topics: set[str]) -> None:
        """Core listener: publish watched small groups now, schedule the rest.

        A group no client monitors is only marked pending: a read builds it
        (`flush_for_read`), and so does a new subscription, whose first value pcas reads.
        """
        groups = {group for topic in topics for group in TOPIC_GROUPS.get(topic, ())}
        with self.lock:
            for group in groups.intersection(_JSON_GROUPS):
                self._versions[group] = self._versions.get(group, 0) + 1
        watched = {g for g in groups if self._watched(g)}
        now_groups = {g for g in watched if g not in DEFERRED_INTERVALS}
        with self.lock:
            self._pending |= groups - now_groups
        if now_groups:
            self.publish_groups(now_groups)
        if watched - now_groups:
            self._wake.set()

    def json_texts(self, group: str) -> dict[str, str]:
        """The JSON texts of a group, built once per change and shared by the twin PVs."""
        with self.lock:
            version = self._versions.get(group, 0)
            cached = self._json_cache.get(group)
        if cached is not None and cached[0] == version:
            return cached[1]
        texts = _JSON_BUILDERS[group](self)
        with self.lock:
            self._json_cache[group] = (version, texts)
        return texts

    def flush_for_read(self, pv_name: str) -> None:
        """Build a pending PV's group now because a client reads it."""
        group = _PV_GROUP.get(pv_name)
        if group is not None and group in self._pending:
            with self.lock:
                self._pending.discard(group)
            self.publish_groups({group})

    def publish_groups(self, groups: set[str]) -> None:
        """Build the values of `groups` (outside the lock) and post them."""
        immediate = [g for g in groups if g not in self._build_locks]
        if immediate:
            # build and post under one lock, so an older snapshot never overwrites a newer
            with self._immediate_lock:
                values: dict[str, Any] = {}
                for group in immediate:
                    values.update(_BUILDERS[group](self))
                self._post(values)
        for group in groups:
            lock = self._build_locks.get(group)
            if lock is not None:
                with lock:
                    self._last_build[group] = time.monotonic()
                    self._post(_BUILDERS[group](self))

    # -- threads ---------------------------------------------------------------------------

    def _run(self) -> None:
        while self._running:
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            with self.lock:
                soon, self._soon = self._soon, []
            now = time.monotonic()
            with self.lock:
                due = {
                    g
                    for g in self._pending
                    if now - self._last_build.get(g, 0.0) >= DEFERRED_INTERVALS.get(g, 0.0)
                }
                # nobody monitors these: leave them pending; a read builds them (flush_for_read)
                due = {g for g in due if self._watched(g)}
                self._pending -= due
                waiting = any(self._watched(g) for g in self._pending)
            if due:
                try:
                    self.publish_groups(due)
                except Exception:
                    log.exception("publishing %s failed", sorted(due))
            for callback in soon:
                callback()
            if soon:
                self.after_update()
            if waiting:
                time.sleep(0.02)
                self._wake.set()

    def _watched(self, group: str) -> bool:
        """True if a client monitors a PV of this group (pcas tells the PV its interest)."""
        pvs = pcaspy_pvs(self.driver)
        return any(getattr(pvs.get(name), "interest", True) for name in _GROUP_PVS[group])

    def _beat(self) -> None:
        next_beat = time.monotonic() + 1.0
        while self._running:
            time.sleep(max(0.0, next_beat - time.monotonic()))
            next_beat += 1.0
            self.heartbeat += 1
            try:
                self.changed({"tick"})
            except Exception:
                log.exception("heartbeat update failed")

    # -- posting ---------------------------------------------------------------------------

    def _post(self, values: dict[str, Any]) -> None:
        with self.lock:
            for name, value in values.items():
                self._set(name, value)
            for name in values:
                self.driver.updatePV(name)
        if threading.get_ident() != self.server_thread:
            self.after_update()

    def _set(self, name: str, value: Any) -> None:
        pv = BY_NAME[name]
        if pv.type == "char":
            array, cut = char_array(value, pv.count, TAIL_BYTES.get(name))
            raw = array.tobytes()
            if self._published.get(name) == raw:
                return
            if cut:
                log.error("%s: value of %d bytes cut to the PV's %d", name, len(raw), pv.count)
            self._published[name] = raw
            self.driver.setParam(name, array)
        elif pv.type == "string":
            text = ascii_text(str(value))[:STRING_CHARS]
            if self.driver.getParam(name) != text:  # an unchanged value keeps a WRITE alarm
                self.driver.setParam(name, text)
        elif self.driver.getParam(name) != value:  # setParam would clear a WRITE alarm
            self.driver.setParam(name, value)


def _fit_list(items: list[str], count: int) -> str:
    """A JSON array of as many leading items as fit in a char PV of `count`."""
    text = "[" + ",".join(items) + "]"
    while len(text) >= count and items:
        items = items[: len(items) * 9 // 10]
        text = "[" + ",".join(items) + "]"
        log.warning("list cut to %d entries to fit %d bytes", len(items), count)
    return text


def _or_unknown(value: float | None) -> float:
    return -1.0 if value is None else float(value)


def _counts(p: Publisher) -> dict[str, Any]:
    core = p.core
    values: dict[str, Any] = {"QUEUE:COUNT": len(core.queue)}
    for n, (job_id, name, estimate) in enumerate(core.queue_slots(), start=1):
        values[f"QUEUE:{n}:ID"] = job_id
        values[f"QUEUE:{n}:NAME"] = name
        values[f"QUEUE:{n}:ESTIMATE"] = estimate
    eta = core.queue_eta()
    values["QUEUE:ETA"] = eta
    values["QUEUE:FINISH"] = queue_finish(core.finish_eta(), idle=core.nothing_to_run())
    return values


def _state(p: Publisher) -> dict[str, Any]:
    core = p.core
    return {
        "STATE": list(type(core.run_state)).index(core.run_state),
        "STATE:CODE": core.state_code(),
        "QUEUE:HOLD": int(core.hold),
        "QUEUE:ON_ERROR": 0 if core.on_error_hold else 1,
        "QUEUE:ON_INVALID": 0 if core.on_invalid_hold else 1,
    }


def _current_scalars(p: Publisher) -> dict[str, Any]:
    core = p.core
    with core.lock:
        job = core.current
        if job is None:
            return {
                "CURRENT:ID": 0,
                "CURRENT:NAME": "",
                "CURRENT:NAME:TEXT": "",
                "CURRENT:LINE": 0,
                "CURRENT:PROGRESS": -1.0,
                "CURRENT:MESSAGE": "",
                "CURRENT:MESSAGE:TEXT": "",
                "CURRENT:ELAPSED": 0.0,
                "CURRENT:ESTIMATE": -1.0,
                "CURRENT:REMAINING": -1.0,
            }
        return {
            "CURRENT:ID": job.id,
            "CURRENT:NAME": job.name,
            "CURRENT:NAME:TEXT": job.name,
            "CURRENT:LINE": job.line or 0,
            "CURRENT:PROGRESS": _or_unknown(core.progress()),
            "CURRENT:MESSAGE": job.message,
            "CURRENT:MESSAGE:TEXT": job.message,
            "CURRENT:ELAPSED": core.elapsed() or 0.0,
            "CURRENT:ESTIMATE": _or_unknown(job.estimate),
            "CURRENT:REMAINING": _or_unknown(core.remaining()),
        }


def _history_slots(jobs: list[Any]) -> dict[str, Any]:
    """`HISTORY:<n>:*` of the newest finished jobs (0, '', NONE, '' when absent)."""
    values: dict[str, Any] = {}
    for n in range(1, QUEUE_SLOTS + 1):
        job = jobs[n - 1] if n <= len(jobs) else None
        error = (job.error or {}) if job else {}
        line = f" line {error['line']}" if error.get("line") else ""
        brief = f"{error.get('type')}{line}: {error.get('message')}" if error else ""
        values[f"HISTORY:{n}:ID"] = job.id if job else 0
        values[f"HISTORY:{n}:NAME"] = job.name if job else ""
        values[f"HISTORY:{n}:STATE"] = (
            LAST_STATES.index(job.state.value) if job else LAST_STATE_NONE
        )
        values[f"HISTORY:{n}:ERROR"] = brief
    return values


def _last(p: Publisher) -> dict[str, Any]:
    core = p.core
    with core.lock:
        recent = list(itertools.islice(core.history, QUEUE_SLOTS))
    slots = _history_slots(recent)
    job = recent[0] if recent else None
    if job is None:
        none = LAST_STATE_NONE
        return {"LAST:ID": 0, "LAST:STATE": none, "LAST:ERROR": "", "LAST:ERROR:TEXT": "", **slots}
    error = job.error or {}
    text = f"{error.get('type')}: {error.get('message')}" if error else ""
    from ..core.jobs import FINISHED_STATE_NAMES

    return {
        "LAST:ID": job.id,
        "LAST:STATE": FINISHED_STATE_NAMES.index(job.state.value),
        "LAST:ERROR": text,
        "LAST:ERROR:TEXT": text,
        **slots,
    }


def _heartbeat(p: Publisher) -> dict[str, Any]:
    from .. import __version__

    return {
        "SERVER:HEARTBEAT": p.heartbeat,
        "SERVER:VERSION": __version__,
        "SERVER:UPTIME": time.time() - p.core.started_at,
    }


def _commands_counts(p: Publisher) -> dict[str, Any]:
    catalogue = p.core.catalogue
    return {"COMMANDS:COUNT": len(catalogue.names()), "COMMANDS:REVISION": catalogue.revision}


def _history_json(p: Publisher) -> str:
    with p.core.lock:
        items = [job.json_text() for job in p.core.history]
    return _fit_list(items, BY_NAME["HISTORY"].count)


_JSON_BUILDERS: dict[str, Callable[[Publisher], dict[str, str]]] = {
    "replies": lambda p: {"REPLY": to_json(p.core.replies_list())},
    "validate": lambda p: {"VALIDATE:RESULT": to_json(p.core.validate_result)},
    "queue_json": lambda p: {"QUEUE": p.core.queue_json()},
    "history_json": lambda p: {"HISTORY": _history_json(p)},
    "commands_json": lambda p: {
        "COMMANDS": to_json(p.core.catalogue.to_json()),
        "COMMANDS:ERRORS": to_json(p.core.catalogue.errors),
    },
    "current_json": lambda p: {"CURRENT": to_json(p.core.current_record())},
    "status": lambda p: {"STATUS": to_json(p.core.status())},
}


def _plain(group: str) -> Callable[[Publisher], dict]:
    return lambda p: p.json_texts(group)


def _zhex_of(group: str) -> Callable[[Publisher], dict]:
    return lambda p: {f"{name}:ZHEX": zhex(text) for name, text in p.json_texts(group).items()}


_BUILDERS: dict[str, Callable[[Publisher], dict[str, Any]]] = {
    "counts": _counts,
    "state": _state,
    "current_scalars": _current_scalars,
    "last": _last,
    "heartbeat": _heartbeat,
    "commands_counts": _commands_counts,
    "last_error": lambda p: {"LAST_ERROR": p.core.last_error, "LAST_ERROR:TEXT": p.core.last_error},
    "script": lambda p: {"CURRENT:SCRIPT": p.core.current_source},
    "output": lambda p: {"CURRENT:OUTPUT": p.core.output_tail},
    "log": lambda p: {"LOG": p.core.log_text()},
    "job_output": lambda p: dict(zip(("JOB:OUTPUT:ID", "JOB:OUTPUT"), selected_output(p.core))),
    **{group: _plain(group) for group in _JSON_BUILDERS},
    **{f"{group}_zhex": _zhex_of(group) for group in _JSON_BUILDERS},
}

_GROUP_PVS: dict[str, list[str]] = {}
"""Group -> the PVs its builder sets (filled in at start)."""
_PV_GROUP: dict[str, str] = {}
"""PV -> its group (filled in at start)."""


def pcaspy_pvs(driver: Any) -> dict[str, Any]:
    """The pcaspy PV objects of this driver, by name (to ask whether anyone monitors them)."""
    import pcaspy.driver

    return pcaspy.driver.manager.pvs.get(driver.port, {})
