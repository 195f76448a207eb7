"""`file` jobs' scripts: read off the core lock through `JobFiles`, then carried in the job.

A `file` job names a script in the scripts folder, and it runs the script as it is when
the job starts (a scientist may still correct it while the job waits). The core never
reads it with its lock held; the text is read through the `JobFiles` port:

- when the job is added, edited or re-run: in the write's slow part (`Later.work`), so a
  file that cannot be read refuses the write, with the reason;
- by the pre-flight worker's thread before it looks for work (`refresh_queued`), so a
  script edited on disk is checked again before its turn;
- once more when the job's turn comes (`ready`), on a thread of its own; the job starts
  when that read is back (a job added to an idle queue was read just now and starts at
  once).

From then on the job carries the text (`Job.file_text`, `core.ports.ScriptFile`): the
checks, the pre-flight, the start, the running job's script and VALIDATE's dry run use it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .jobs import Job
from .ports import ScriptFile
from .specs import Rejected

log = logging.getLogger(__name__)


class ScriptFiles:
    """Reads of `file` jobs' scripts for the core (a part of `ScriptServer`).

    Threading: `read` and `read_for` run without the core lock (their callers' threads);
    `ready` runs with it held; `refresh_queued` and the read of a job whose turn came take
    it only to look at the queue and to keep what was read.

    Args:
        core: the `ScriptServer` (its `lock`, `queue`, `files`, `timers`).
    """

    def __init__(self, core: Any) -> None:
        self.core = core
        self._fresh: int | None = None
        """Id of the job whose script was read for its turn (it may start with it)."""
        self._reading: int | None = None
        """Id of the job whose script is being read for its turn."""

    def read(self, name: Any, recheck: bool = False) -> ScriptFile:
        """Script `name` as it is now (core lock NOT held); an unreadable one says why.

        `recheck`: a look again (`JobFiles.read_script`), not read when unchanged on disk.
        """
        try:
            return self.core.files.read_script(name, recheck)
        except ValueError as exc:
            return ScriptFile.unreadable(name, str(exc))
        except Exception as exc:  # a script that cannot be read must not stop the queue
            log.exception("reading the script file %r failed", name)
            return ScriptFile.unreadable(name, f"the file {name!r} cannot be read: {exc}")

    def read_for(self, jobs: list[Job], where: Callable[[int], str]) -> list[ScriptFile | None]:
        """The scripts of the `file` jobs among `jobs` (None for the others); no lock.

        Raises:
            Rejected: a file cannot be read (`where(index)` prefixes the reason).
        """
        found: list[ScriptFile | None] = []
        for index, job in enumerate(jobs):
            script = self.read(job.file) if job.kind == "file" else None
            if script is not None and script.problem is not None:
                raise Rejected(f"{where(index)}{script.problem}")
            found.append(script)
        return found

    def fresh(self, job: Job) -> None:
        """`job`'s script was read just now (it is added to an idle queue): it may start."""
        self._fresh = job.id

    def ready(self, job: Job) -> bool:
        """True if `job` may start now (lock held): its script was read for this turn.

        Otherwise the script is read on a thread of its own, which starts the queue again
        when it has kept what it read. Each read serves one start.
        """
        if job.kind != "file":
            return True
        if self._fresh == job.id:
            self._fresh = None
            return True
        if self._reading != job.id:
            self._reading = job.id
            self.core.timers.in_background(lambda: self._read_for_turn(job), "script-file")
        return False

    def _read_for_turn(self, job: Job) -> None:
        """Read the script of `job`, whose turn came, then start the queue again."""
        script = self.read(job.file)
        core = self.core
        with core.lock:
            if self._reading == job.id:
                self._reading = None
            if core.queue.get(job.id) is job:
                self._keep(job, script)
                if core.queue.first() is job:
                    self._fresh = job.id
            core._maybe_start_next()
        core._notify()

    def refresh_queued(self) -> None:
        """Read the scripts of queued `file` jobs again; keep those that changed (no lock).

        A script read again unchanged costs a `stat` (the port keeps what it read); one
        that changed makes the job's pre-flight verdict stale (`core.preflight`).
        """
        core = self.core
        with core.lock:
            wanted = [job for job in core.queue if job.kind == "file"]
        if not wanted:
            return
        read = [(job, self.read(job.file, recheck=True)) for job in wanted]
        with core.lock:
            changed = [
                self._keep(job, script) for job, script in read if core.queue.get(job.id) is job
            ]
        if any(changed):
            core._notify()

    def _keep(self, job: Job, script: ScriptFile) -> bool:
        """`job` carries `script` from now on (lock held); True if its text changed.

        A change is news to the queue: the pre-flight worker looks at the job again.
        """
        old = job.file_text
        if old is not None and (old.digest, old.path, old.problem) == (
            script.digest,
            script.path,
            script.problem,
        ):
            return False
        job.carry(script)
        self.core.touch("queue")
        return True
