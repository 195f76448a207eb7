"""Giving memory back to the operating system once a large queue has gone.

CPython keeps the memory of freed objects for reuse, and glibc's allocator keeps freed
heap pages too: after a 10,000-job queue is cleared, the IOC would stay at its peak size.
When the queue has shrunk by `SHRINK` jobs or more from its largest size since the last
time, `malloc_trim(0)` (glibc, Linux) returns the free pages, on a thread of its own: the
call releases the interpreter lock, so nothing waits for it. Elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

SHRINK = 1000
"""Queued jobs gone since the largest size seen before memory is given back."""


def _malloc_trim() -> Callable[[int], int] | None:
    """The C library's ``malloc_trim`` (glibc), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


MMAP_THRESHOLD = 256 * 1024
"""Bytes from which glibc maps a block of its own, returned to the system when freed."""

_M_MMAP_THRESHOLD = -3
"""glibc's `mallopt` parameter number of the mmap threshold (malloc.h)."""


def _fix_mmap_threshold() -> None:
    """Keep glibc's mmap threshold at `MMAP_THRESHOLD` (glibc, Linux; else nothing).

    glibc raises the threshold to the size of each mapped block freed, up to 32 MB: after
    the first 5 MB copy of a large queue's text, every later one comes from the heap, where
    freed blocks stay resident between other objects. Fixed, the copies made each time a
    large PV is rebuilt (5 MB for a 10,000-job `QUEUE`) are mapped and unmapped.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if not mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD):
        log.debug("mallopt(M_MMAP_THRESHOLD) refused")


class MemoryKeeper:
    """Watches the queue's size and gives memory back after it shrank a lot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._peak = 0
        self._trim = _malloc_trim()
        if self._trim is not None:
            _fix_mmap_threshold()
        self.given_back = 0
        """How many times memory was given back (for tests and benchmarks)."""

    def queue_count(self, count: int) -> None:
        """Note the queue's size (any thread); may start giving memory back."""
        with self._lock:
            if count >= self._peak:
                self._peak = count
                return
            if self._peak - count < SHRINK:
                return
            self._peak = count
        if self._trim is not None:
            threading.Thread(target=self._give_back, name="memory-trim", daemon=True).start()

    def _give_back(self) -> None:
        try:
            self._trim(0)
        except OSError as exc:  # pragma: no cover - a libc without it
            log.debug("malloc_trim failed: %s", exc)
        with self._lock:
            self.given_back += 1
