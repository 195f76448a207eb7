"""The core's ports on this machine: threads and timers, the files of jobs (`core.ports`).

`app.py` gives these to the core; tests give the same ones (`tests/core_factory.py`), so
the core is exercised over real threads and files.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .core.ports import ScriptFile
from .job._protocol import plots_dir
from .validate.scripts import read_script_file, script_file_path

SCRIPTS_KEPT = 1000
"""Script files whose text `JobFolders` keeps (one per queued `file` job, usually few)."""

log = logging.getLogger(__name__)


class ThreadTimers:
    """`core.ports.Timers` on daemon threads (a job's process outlives nothing of these)."""

    now = staticmethod(time.time)
    monotonic = staticmethod(time.monotonic)

    def call_later(self, seconds: float, action: Callable[[], None]) -> threading.Timer:
        """Call `action()` once, `seconds` from now, on a timer thread."""
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        timer.start()
        return timer

    def in_background(self, action: Callable[[], None], name: str) -> None:
        """Run `action()` now on a daemon thread named `name`."""
        threading.Thread(target=action, name=name, daemon=True).start()


class JobFolders:
    """`core.ports.JobFiles` over the data directory's folders.

    Args:
        scripts_dir: where `file` jobs come from (None: `file` jobs cannot run).
    """

    def __init__(self, scripts_dir: Path | None) -> None:
        self.scripts_dir = scripts_dir.resolve() if scripts_dir is not None else None
        self._read: dict[Path, tuple[tuple[int, int], ScriptFile]] = {}
        self._lock = threading.Lock()

    def read_script(self, name: str, recheck: bool = False) -> ScriptFile:
        """`name` in the scripts folder as it is now (`validate.scripts` reads it).

        Args:
            name: the file's path relative to the scripts folder.
            recheck: a look again at a file read before: when its size and modification
                time are unchanged it is not read again (a `stat`; the pre-flight looks at
                every queued `file` job often).

        Raises:
            ValueError: no scripts folder, a name outside it, or an unreadable file.
        """
        path = script_file_path(self.scripts_dir, name)
        try:
            info = path.stat()
        except OSError as exc:
            raise ValueError(f"the file {name!r} cannot be read: {exc.strerror or exc}") from None
        signature = (info.st_mtime_ns, info.st_size)
        with self._lock:
            known = self._read.get(path)
        if recheck and known is not None and known[0] == signature:
            return known[1]
        text, path = read_script_file(self.scripts_dir, name)
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        script = ScriptFile(text, str(path), digest)
        with self._lock:
            if len(self._read) >= SCRIPTS_KEPT:
                self._read.clear()
            self._read[path] = (signature, script)
        return script

    @staticmethod
    def log_tail(path: Path, chars: int) -> tuple[str, int] | None:
        """The last `chars` characters of a job's output log and its size in bytes.

        Returns:
            None when the log does not exist.

        Raises:
            OSError: the log cannot be read.
        """
        if not path.is_file():
            return None
        with open(path, "rb") as log:
            size = log.seek(0, 2)
            log.seek(max(0, size - 4 * chars))  # UTF-8: at most 4 bytes a character
            return log.read().decode("utf-8", "replace")[-chars:], size

    @staticmethod
    def figures(log_path: Path) -> list[str]:
        """The figures a job saved next to its log, in the order they were made."""
        folder = Path(plots_dir(str(log_path)))
        try:
            found = [p for p in folder.glob("figure-*.png") if p.stem[7:].isdigit()]
        except OSError:
            return []
        return [str(p) for p in sorted(found, key=lambda p: int(p.stem[7:]))]


class SerialWorker:
    """Runs submitted tasks one after another on one daemon thread, in submission order.

    One thread keeps the writes of one client in the order they were written and matches
    the companion checker, which answers one request at a time.

    Threading: `__call__` may be called from any thread; tasks run on the worker thread.
    """

    def __init__(self, name: str = "core-worker") -> None:
        self._tasks: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def __call__(self, task: Callable[[], None]) -> None:
        """Queue `task`."""
        self._tasks.put(task)

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the running task (waiting up to `timeout` s); queued ones are dropped.

        Only at shutdown: the writes they belong to are never decided, nothing changes.
        """
        self._closing = True
        self._tasks.put(None)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            if self._closing:
                continue
            try:
                task()
            except Exception:  # a task reports its own failures; never end the worker
                log.exception("core worker task failed")
