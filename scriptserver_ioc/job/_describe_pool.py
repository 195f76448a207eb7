"""Describe many command modules so that a module blocking at import holds back no other.

Runs in the checker process (job interpreter): standard library only, Python 3.8+. The
catalogue asks the checker to ``describe`` a batch of modules with ``"stream": true``; this
module answers one line per event instead of one line for the batch:

- ``{"started": path}`` when a module's import begins;
- ``{"described": {"path", "error", "names", ...}, "seconds": s}`` when it is described
  (``"retry": true`` in the description: it failed while another import was in progress or
  outside the main thread, so a fresh checker should look at it again alone);
- ``{"slow": path, "after": s, "shared": bool}`` when its import has lasted ``slow_after``
  seconds (its description follows whenever the import ends); ``shared``: other imports
  ran meanwhile (it may have waited for one of them);
- ``{"alive": true}`` every half second, so the server can tell a silent checker (a module
  holding the interpreter lock in C code) from one whose imports are blocking.

How: the main thread imports the modules one after another, as a job would (module-level
code runs in the main thread). A watchdog thread samples every importing thread's current
frame every 10 ms; a thread whose frame has not moved for ``HANDOFF`` seconds is blocked
(a PV read waiting for its time-out, a ``sleep``, a socket), and so is one whose module
was named slow. While modules are queued and no importing thread is working, the watchdog
starts one helper thread that goes on with the queue. So the cost of a module that blocks
is the 50 ms it takes to notice, whatever it blocks for, and module code runs in one
thread at a time, but for a blocked one that resumes meanwhile (such a thread leaves once
its module is done): no more CPU contention than before, and libraries that are not
thread-safe are not run from two threads at once (genie_python's logging set-up
deadlocked two threads calling ``get_pv`` together when four could work at once). Each
module is imported once, in one thread, with the import system's own per-module locks (a
module importing another one that is still importing waits for it).
"""

from __future__ import annotations

import collections
import sys
import threading
import time
import traceback

SAMPLE = 0.01
"""Seconds between the watchdog's looks at the importing threads."""
HANDOFF = 0.05
"""Seconds a thread's frame must stay still for it to count as blocked."""
HEARTBEAT = 0.5
"""Seconds between ``alive`` lines."""
MAX_WORKING = 1
"""Most threads importing at once that are not blocked (module code in one thread at once)."""
BURST = 1
"""Most helpers started at once when every importing thread is blocked (more would run module
code in several threads at once)."""


class _Importer:
    """One importing thread and the module it is importing (``path`` None: between two)."""

    __slots__ = ("ident", "main", "path", "started", "signature", "moved", "slow", "shared")

    def __init__(self, main):
        self.ident = threading.get_ident() if main else None  # a helper sets its own
        self.main = main
        self.path = None
        self.started = 0.0
        self.signature = None
        self.moved = 0.0
        self.slow = False
        self.shared = False  # another import was in progress meanwhile: the answer may differ

    def begin(self, item, now, shared):
        self.path, self.started, self.moved = item.get("path"), now, now
        self.signature, self.slow, self.shared = None, False, shared


class DescribePool:
    """Describe ``items`` (the ``describe`` request's modules), emitting events.

    Args:
        items: ``{"module", "path", "names", "all", "exclude", "help"}`` per module.
        describe: ``describe(item)`` -> the module's description (``_describe``).
        emit: writes one event (a dict) to the server; called from several threads.
        slow_after: seconds after which a module still importing is named slow.
        clock: the monotonic clock (seconds).
    """

    def __init__(self, items, describe, emit, slow_after, clock=time.monotonic):
        self._queue = collections.deque(items)
        self._describe = describe
        self._emit = emit
        self.slow_after = float(slow_after)
        self._clock = clock
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._importers = set()
        self._finished = threading.Event()

    def run(self):
        """Describe every item; returns when every import has ended."""
        watchdog = threading.Thread(target=self._watch, name="describe-watchdog", daemon=True)
        watchdog.start()
        me = _Importer(main=True)
        with self._lock:
            self._importers.add(me)
            first = self._take(me)
        try:
            self._import(me, first)
        finally:
            with self._lock:
                # an exception (the server gone: a broken pipe) leaves `me` here: drop it, or
                # this thread would wait for itself for ever
                self._importers.discard(me)
                while self._importers:
                    self._changed.wait()
            self._finished.set()
            watchdog.join()

    def _take(self, me):
        """The next item for ``me`` (lock held), or None: then ``me`` leaves."""
        now = self._clock()
        others = [i for i in self._importers if i is not me and i.path is not None]
        working = sum(1 for i in others if _working(i, now))
        if self._queue and working < _target(len(others) - working):
            item = self._queue.popleft()
            me.begin(item, now, shared=bool(others) or not me.main)
            return item
        self._importers.discard(me)
        self._changed.notify_all()
        return None

    def _import(self, me, item):
        """Describe ``item``, then the next ones while this thread is wanted."""
        while item is not None:
            self._emit({"started": item.get("path")})
            try:
                answer = self._describe(item)
            except Exception:  # noqa: BLE001 - one module's trouble is that module's answer
                message = "checker failed: " + traceback.format_exc(limit=3)
                answer = {"path": item.get("path"), "error": _error(message), "names": {}}
            with self._lock:
                seconds = self._clock() - me.started
                shared = me.shared or any(i.path for i in self._importers if i is not me)
                me.path = None
            if answer.get("error") and shared:
                answer["retry"] = True
            self._emit({"described": answer, "seconds": round(seconds, 2)})
            with self._lock:
                item = self._take(me)

    def _helper(self, me, item):
        with self._lock:
            me.ident = threading.get_ident()
        try:
            self._import(me, item)
        finally:
            with self._lock:
                self._importers.discard(me)
                self._changed.notify_all()

    def _watch(self):
        beat = self._clock()
        while not self._finished.wait(SAMPLE):
            frames = sys._current_frames()
            now = self._clock()
            events = []
            with self._lock:
                busy = [i for i in self._importers if i.path is not None]
                for importer in busy:
                    frame = frames.get(importer.ident) if importer.ident is not None else None
                    signature = (id(frame), getattr(frame, "f_lasti", None))
                    if importer.ident is None or signature != importer.signature:
                        importer.signature, importer.moved = signature, now
                    if len(busy) > 1:
                        importer.shared = True
                    if not importer.slow and now - importer.started >= self.slow_after:
                        importer.slow = True
                        slow = {"slow": importer.path, "after": self.slow_after}
                        events.append(dict(slow, shared=importer.shared))
                self._start_helpers(busy, now)
            del frames
            if now - beat >= HEARTBEAT:
                beat = now
                events.append({"alive": True})
            for event in events:
                self._emit(event)

    def _start_helpers(self, busy, now):
        """Start helper threads (lock held) if modules wait and no import is working."""
        working = sum(1 for i in busy if _working(i, now))
        if working or not busy:
            return  # somebody is working, or the only importer is between two modules
        # as many as are blocked (a run of blocking modules is found in a few rounds),
        # at least the working target; they fall back to the target after one module each
        wanted = max(_target(len(busy)), min(BURST, len(busy)))
        for _ in range(min(len(self._queue), wanted)):
            item = self._queue.popleft()
            helper = _Importer(main=False)
            helper.begin(item, now, shared=True)
            self._importers.add(helper)
            thread = threading.Thread(
                target=self._helper, args=(helper, item), name="describe-import", daemon=True
            )
            thread.start()


def _working(importer, now):
    """True if ``importer`` is importing, not named slow, and its frame moved lately."""
    if importer.path is None or importer.slow:
        return False
    return now - importer.moved < HANDOFF


def _target(blocked):
    """How many threads may be working when ``blocked`` imports are blocked."""
    return 1 + min(MAX_WORKING - 1, blocked)


def _error(message):
    return {"line": None, "message": message, "structural": False}
