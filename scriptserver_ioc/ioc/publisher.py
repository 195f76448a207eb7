"""Publishing the core's state to PVs: small values at once, large JSON coalesced.

The core tells the publisher which topics changed; the PV table names, beside each
published PV, its builder (`ioc/builders.py`) and the topics that rebuild it. Small PVs
(counts, state, scalars of the current job, replies) are set in the caller's thread before
the write returns, so a put with callback completes after they are visible. Large JSON PVs
(the queue, the history, the catalogue) are rebuilt by a publishing thread, outside the
core's lock; a burst of edits produces few large updates. A client read of a large PV with
a pending update builds it at once (`flush_for_read`), so a read after a completed put is
always current.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..contract.pvmodel import builder_pvs, check_publishing, topic_builders
from ..contract.pvtable import ALL_PVS, BY_NAME
from ..contract.topics import TOPICS
from .builders import BUILDERS, JSON_BUILDERS
from .encoding import TAIL_BYTES, ascii_text, char_bytes, json_value
from .memory import MemoryKeeper
from .splicing import SplicedArray

log = logging.getLogger(__name__)

check_publishing(ALL_PVS, BUILDERS, TOPICS)

STRING_CHARS = 39
"""Characters a CA DBR_STRING holds (40 with the terminator)."""

GROUP_PVS: dict[str, tuple[str, ...]] = builder_pvs(ALL_PVS)
"""Builder -> the PVs it sets (from the PV table)."""
PV_GROUP: dict[str, str] = {name: group for group, names in GROUP_PVS.items() for name in names}
"""PV -> its builder."""
TOPIC_GROUPS: dict[str, tuple[str, ...]] = topic_builders(ALL_PVS)
"""Topic the core reports -> builders of the PVs it refreshes (from the PV table)."""
_JSON_GROUPS = frozenset(JSON_BUILDERS)
"""Builders of JSON PVs; each has a twin `<group>_zhex` for the `:ZHEX` PVs, so that a client
reading or watching only one form never pays for the other."""

DEFERRED_INTERVALS: dict[str, float] = {
    pv.builder: pv.interval for pv in ALL_PVS if pv.interval is not None
}
"""Groups built by the publishing thread, with the least time between two builds (the
rebuild interval of their PVs in the PV table)."""


BUILD_SHARE = 10.0
"""A watched deferred group is rebuilt at most once per this many times its build's cost."""


class Publisher:
    """Turns core state into PV values.

    Threads: the server thread (`changed` after its own writes, `flush_for_read`, `drain`),
    the core's worker and the runner's threads (`changed`), the publishing thread (`_run`:
    deferred builds) and the heartbeat thread (`_beat`).

    pcaspy is called from the server thread only. The server thread runs `Driver.read`
    and `Driver.write` holding pcas's own mutex, and `updatePV` from another thread waits
    for that mutex: a thread posting while holding a lock the server thread then wants
    deadlocks both (seen: a read waiting for the driver's lock held by a runner thread
    inside `updatePV`). So other threads put values and callbacks in `_outbox` and kick the
    loop, which runs `drain` after every `process()`; the server thread drains before it
    posts anything itself, so values keep their order.

    Locks, never one inside the other, none held while calling pcaspy from another thread
    (no thread but the server's calls it):
        `core.lock`: taken by each builder alone, to copy one consistent snapshot
            (`ioc/builders.py`); released before anything is posted.
        `lock` (the driver's): this object's shared state (`_versions`, `_json_cache`,
            `_pending`, `_last_build`, `_build_cost`) and, on the server thread, pcaspy's
            parameters.
        `_immediate_lock`: builds and posts of the small groups, so an older snapshot
            never overwrites a newer one; `_build_locks[group]`: the same for each deferred
            group; `_json_locks[group]`: one build of a JSON group's texts at a time (taken
            inside a build lock). All are taken before `lock` and never inside it.
    `_outbox` is a deque (appends and pops are atomic); `_published` is the server
    thread's only. `heartbeat` is written only by the heartbeat thread; `server_thread`
    and `_threads` only by `start`, before the threads run.

    Args:
        driver: the pcaspy Driver (setParam, updatePVs).
        core: the `core.ScriptServer`.
        lock: the lock around every setParam/updatePVs.
        after_update: wakes the server loop after another thread queued values (the kick).
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
        self.spliced = {name: SplicedArray() for name in ("QUEUE", "QUEUE:SUMMARY")}
        """Large JSON arrays rebuilt by splicing (`ioc/splicing.py`; their builds are serial)."""
        self.memory = MemoryKeeper()
        """Gives memory back after the queue shrank a lot (told the count by `counts`)."""
        self._published: dict[str, Any] = {}
        self._versions: dict[str, int] = {}
        self._json_cache: dict[str, tuple[int, dict[str, bytes]]] = {}
        self._json_locks = {group: threading.Lock() for group in JSON_BUILDERS}
        self._pending: set[str] = set()
        self._last_build: dict[str, float] = {}
        self._build_cost: dict[str, float] = {}
        self._build_locks = {group: threading.Lock() for group in DEFERRED_INTERVALS}
        self._immediate_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._outbox: collections.deque[dict[str, Any] | Callable[[], None]] = collections.deque()
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Publish everything once, then start the publishing and heartbeat threads."""
        self.server_thread = threading.get_ident()
        self.publish_groups(set(BUILDERS))
        for target, name in ((self._run, "publisher"), (self._beat, "heartbeat")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the threads."""
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=2)

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the server thread after the values queued before it.

        E.g. completing an asynchronous put (`callbackPV`) after its reply is published.
        """
        self._outbox.append(callback)
        self.after_update()

    def drain(self) -> None:
        """Post the values and run the callbacks other threads queued (server thread)."""
        while True:
            try:
                item = self._outbox.popleft()
            except IndexError:
                return
            if callable(item):
                try:
                    item()
                except Exception:
                    log.exception("completing a write failed")
            else:
                self._apply(item)

    # -- notifications ---------------------------------------------------------------------

    def changed(self, topics: set[str]) -> None:
        """Core listener: publish watched small groups now, schedule the rest.

        A group no client monitors is only marked pending: a read builds it
        (`flush_for_read`), and so does a new subscription, whose first value pcas reads.
        """
        groups = {group for topic in topics for group in TOPIC_GROUPS.get(topic, ())}
        watched = {g for g in groups if self._watched(g)}
        now_groups = {g for g in watched if g not in DEFERRED_INTERVALS}
        with self.lock:
            for group in groups.intersection(_JSON_GROUPS):
                self._versions[group] = self._versions.get(group, 0) + 1
            self._pending |= groups - now_groups
        if now_groups:
            self.publish_groups(now_groups)
        if watched - now_groups:
            self._wake.set()

    def json_texts(self, group: str) -> dict[str, bytes]:
        """The JSON values of a group, built once per change and shared by the twin PVs.

        NUL-terminated ASCII (`json_value`): the bytes pcaspy serves, held once. A group and
        its twin are built by different threads: one builds, the other then takes its texts.
        """
        with self._json_locks[group]:  # the spliced arrays keep state between builds
            with self.lock:
                version = self._versions.get(group, 0)
                cached = self._json_cache.get(group)
            if cached is not None and cached[0] == version:
                return cached[1]
            texts = {
                name: text if isinstance(text, bytes) else json_value(text)
                for name, text in JSON_BUILDERS[group](self).items()
            }
            with self.lock:
                self._json_cache[group] = (version, texts)
            return texts

    def flush_for_read(self, pv_name: str) -> None:
        """Build a pending PV's group now because a client reads it."""
        group = PV_GROUP.get(pv_name)
        if group is None:
            return
        with self.lock:
            pending = group in self._pending
            self._pending.discard(group)
        if pending:
            self.publish_groups({group})

    def publish_groups(self, groups: set[str]) -> None:
        """Build the values of `groups` (outside the lock) and post them."""
        immediate = [g for g in groups if g not in self._build_locks]
        if immediate:
            with self._immediate_lock:
                values: dict[str, Any] = {}
                for group in immediate:
                    values.update(BUILDERS[group](self))
                self._post(values)
        for group in groups:
            build_lock = self._build_locks.get(group)
            if build_lock is not None:
                with build_lock:
                    started = time.monotonic()
                    with self.lock:
                        self._last_build[group] = started
                    self._post(BUILDERS[group](self))
                    with self.lock:
                        self._build_cost[group] = time.monotonic() - started

    # -- threads ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            now = time.monotonic()
            with self.lock:
                due = {
                    g
                    for g in self._pending
                    if now - self._last_build.get(g, 0.0) >= self._interval(g)
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
            if waiting:
                self._stopping.wait(0.02)  # the least interval of a pending group
                self._wake.set()

    def _interval(self, group: str) -> float:
        """Least seconds between two builds of a watched group (`lock` held).

        The PV table's interval, or ten times what the group's last build took, whichever
        is longer: a large queue watched while it changes costs the server at most about a
        tenth of a core, its monitors coalescing more the larger it is.
        """
        return max(
            DEFERRED_INTERVALS.get(group, 0.0), BUILD_SHARE * self._build_cost.get(group, 0.0)
        )

    def _watched(self, group: str) -> bool:
        """True if a client monitors a PV of this group (pcas tells the PV its interest).

        Reads pcaspy's PV objects without a lock: `interest` is a flag the server thread
        sets; a stale answer only delays a build to the next change or read.
        """
        pvs = pcaspy_pvs(self.driver)
        return any(getattr(pvs.get(name), "interest", True) for name in GROUP_PVS[group])

    def _beat(self) -> None:
        next_beat = time.monotonic() + 1.0
        while not self._stopping.wait(max(0.0, next_beat - time.monotonic())):
            next_beat += 1.0
            self.heartbeat += 1
            try:
                self.changed({"tick"})
            except Exception:
                log.exception("heartbeat update failed")

    # -- posting ---------------------------------------------------------------------------

    def _post(self, values: dict[str, Any]) -> None:
        """Post now on the server thread (after what is queued), else queue and kick."""
        if threading.get_ident() == self.server_thread:
            self.drain()
            self._apply(values)
        else:
            self._outbox.append(values)
            self.after_update()

    def _apply(self, values: dict[str, Any]) -> None:
        """Set and post values (server thread only)."""
        with self.lock:
            for name, value in values.items():
                self._set(name, value)
            for name in values:
                self.driver.updatePV(name)

    def _set(self, name: str, value: Any) -> None:
        """Set one parameter if it changed (`lock` held)."""
        pv = BY_NAME[name]
        if pv.type == "char":
            raw, cut = char_bytes(value, pv.count, TAIL_BYTES.get(name))
            if self._published.get(name) == raw:  # a memcmp: 0.3 ms for a 10,000-job QUEUE
                return
            if cut:
                log.error("%s: value of %d bytes cut to the PV's %d", name, len(value), pv.count)
            self._published[name] = raw  # the array below is a view of it: no copy kept
            self.driver.setParam(name, shared_array(raw))
        elif pv.type == "string":
            text = ascii_text(str(value))[:STRING_CHARS]
            if self.driver.getParam(name) != text:  # an unchanged value keeps a WRITE alarm
                self.driver.setParam(name, text)
        elif self.driver.getParam(name) != value:  # setParam would clear a WRITE alarm
            self.driver.setParam(name, value)


class SharedBytes(np.ndarray):
    """A uint8 view of bytes the publisher keeps, handed to pcaspy as the PV's value.

    pcaspy's `setParam` copies every array whose type is named `numpy.ndarray` (its values
    may be changed by the caller afterwards); ours are immutable bytes, so this subclass,
    which it does not copy, lets a 10,000-job `QUEUE` (5 MB) be held once. pcas reads it
    through the buffer interface (`putCharDataBuffer`), as any uint8 array.
    """


def shared_array(raw: bytes) -> np.ndarray:
    """A read-only `SharedBytes` view of `raw` (no copy)."""
    return np.frombuffer(raw, dtype=np.uint8).view(SharedBytes)


def pcaspy_pvs(driver: Any) -> dict[str, Any]:
    """The pcaspy PV objects of this driver, by name (to ask whether anyone monitors them)."""
    import pcaspy.driver

    return pcaspy.driver.manager.pvs.get(driver.port, {})
