"""The ordered queue of jobs waiting to run.

Each queued job has a sort key (a float) so that the store can persist an insert or a move
by writing one row: a new key is chosen between its neighbours' keys. When the gap between
two neighbours is exhausted, every key is renumbered and the caller is told to store them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .jobs import Job, undo_log

KEY_STEP = 1024.0
"""Distance between the sort keys of consecutive jobs after a renumbering."""

_MIN_GAP = 1e-6


class JobQueue:
    """Queued jobs in run order with stable sort keys.

    Not thread-safe: the owner (core.ScriptServer) serialises access with its lock. Inside
    a decision of the core (`jobs.undo_log()` set) every change logs its inverse (and the
    first one the totals), so that the decision can be undone without copying the queue.
    """

    def __init__(self) -> None:
        self._jobs: list[Job] = []
        self._by_id: dict[int, Job] = {}
        self.keys: dict[int, float] = {}
        self.json_bytes = 0
        """Total length of the queued jobs' JSON records (bounded by MAX_QUEUE_JSON_BYTES)."""
        self.estimate_total = 0.0
        """Sum of the queued jobs' known estimates (for QUEUE:ETA without a scan)."""
        self._saved_for: list | None = None

    def __len__(self) -> int:
        return len(self._jobs)

    def __bool__(self) -> bool:
        return bool(self._jobs)

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._jobs))

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._by_id

    def get(self, job_id: int) -> Job | None:
        """The queued job with this id, or None."""
        return self._by_id.get(job_id)

    def ids(self) -> list[int]:
        """Ids in run order."""
        return [job.id for job in self._jobs]

    def first(self) -> Job | None:
        """The job that runs next."""
        return self._jobs[0] if self._jobs else None

    def head(self, count: int) -> list[Job]:
        """The first `count` jobs."""
        return self._jobs[:count]

    def index(self, job_id: int) -> int:
        """Position of a queued job (0 = next to run)."""
        return self._jobs.index(self._by_id[job_id])

    def load(self, jobs_with_keys: Iterable[tuple[Job, float]]) -> None:
        """Fill an empty queue from storage, ordered by key."""
        for job, key in sorted(jobs_with_keys, key=lambda pair: pair[1]):
            self._jobs.append(job)
            self._by_id[job.id] = job
            self.keys[job.id] = key
            self._count(job, 1)

    def insert(self, jobs: list[Job], index: int | None = None) -> bool:
        """Insert jobs contiguously before `index` (None or past the end: at the end).

        Returns:
            True if every key was renumbered (the caller must store all of them).
        """
        undo = self._journal()
        if index is None or index > len(self._jobs):
            index = len(self._jobs)
        self._jobs[index:index] = jobs
        for job in jobs:
            self._by_id[job.id] = job
            self._count(job, 1)
        if undo is not None:
            undo.append(lambda: self._unlist(index, len(jobs)))
        return self._assign_keys(index, len(jobs))

    def remove(self, job_ids: Iterable[int]) -> list[Job]:
        """Remove jobs by id; returns them in run order."""
        undo = self._journal()
        doomed = set(job_ids)
        if len(doomed) <= 8:
            removed = sorted((self._by_id[i] for i in doomed), key=self._jobs.index)
            for job in removed:
                where = self._jobs.index(job)
                del self._jobs[where]
                if undo is not None:
                    undo.append(lambda job=job, where=where: self._relist(where, job))
        else:
            removed = [job for job in self._jobs if job.id in doomed]
            old, self._jobs = self._jobs, [job for job in self._jobs if job.id not in doomed]
            if undo is not None:
                undo.append(lambda: self._put_list(old))
        for job in removed:
            del self._by_id[job.id]
            self._set_key(job.id, None)
            self._count(job, -1)
        return removed

    def pop_first(self) -> Job:
        """Remove and return the job that runs next."""
        job = self._jobs[0]
        self.remove([job.id])
        return job

    def move(self, job_id: int, to: int) -> bool:
        """Move a job so that its index becomes `to` (clamped to the ends).

        Returns:
            True if every key was renumbered.
        """
        undo = self._journal()
        job = self._by_id[job_id]
        where = self._jobs.index(job)
        del self._jobs[where]
        to = max(0, min(to, len(self._jobs)))
        self._jobs.insert(to, job)
        if undo is not None:
            undo.append(lambda: (self._unlist(to, 1), self._relist(where, job)))
        return self._assign_keys(to, 1)

    def reorder(self, order: list[int]) -> None:
        """Put the listed ids first, in that order; the others keep their order after them.

        Every key is renumbered; the caller stores them all.
        """
        undo = self._journal()
        listed = [self._by_id[i] for i in dict.fromkeys(order) if i in self._by_id]
        chosen = {job.id for job in listed}
        old, self._jobs = self._jobs, listed + [job for job in self._jobs if job.id not in chosen]
        if undo is not None:
            undo.append(lambda: self._put_list(old))
        self._renumber()

    def replace(self, job: Job) -> None:
        """Swap in an edited version of a queued job (same id and place)."""
        undo = self._journal()
        old = self._by_id[job.id]
        where = self._jobs.index(old)
        self._jobs[where] = job
        self._by_id[job.id] = job
        self._count(old, -1)
        self._count(job, 1)
        if undo is not None:
            undo.append(lambda: (self._unlist(where, 1), self._relist(where, old)))

    def update_job(self, job: Job, **changes: object) -> None:
        """Change fields of a queued job in place, keeping the totals right."""
        self._journal()
        self._count(job, -1)
        job.update(**changes)  # journaled by the job itself
        self._count(job, 1)

    # -- undo of a decision (see the class docstring) ----------------------------------------

    def _journal(self) -> list | None:
        """The undo log of the decision in progress, or None; the totals are saved once.

        Each change then logs its own inverse (no copy of the queue), run newest first.
        """
        undo = undo_log()
        if undo is not None and undo is not self._saved_for:
            self._saved_for = undo
            totals = (self.json_bytes, self.estimate_total)
            undo.append(lambda: self._put_totals(*totals))
        return undo

    def settle(self) -> None:
        """The decision in progress ended: the next change starts a new journal."""
        self._saved_for = None

    def _put_totals(self, size: int, eta: float) -> None:
        self.json_bytes, self.estimate_total, self._saved_for = size, eta, None

    def _unlist(self, index: int, count: int) -> None:
        for job in self._jobs[index : index + count]:
            del self._by_id[job.id]
        del self._jobs[index : index + count]

    def _relist(self, index: int, job: Job) -> None:
        self._jobs.insert(index, job)
        self._by_id[job.id] = job

    def _put_list(self, jobs: list[Job]) -> None:
        self._jobs = jobs
        self._by_id = {job.id: job for job in jobs}

    def _set_key(self, job_id: int, key: float | None) -> None:
        """Set (None: delete) a job's sort key, logging the old one in a decision."""
        undo = undo_log()
        if undo is not None:
            old, keys = self.keys.get(job_id), self.keys
            undo.append(lambda: self._put_key(keys, job_id, old))
        if key is None:
            del self.keys[job_id]
        else:
            self.keys[job_id] = key

    @staticmethod
    def _put_key(keys: dict[int, float], job_id: int, key: float | None) -> None:
        if key is None:
            keys.pop(job_id, None)
        else:
            keys[job_id] = key

    def _count(self, job: Job, sign: int) -> None:
        self.json_bytes += sign * len(job.json_text())
        self.estimate_total += sign * (job.estimate or 0.0)

    def _assign_keys(self, index: int, count: int) -> bool:
        before = self.keys[self._jobs[index - 1].id] if index > 0 else None
        after_index = index + count
        after = self.keys[self._jobs[after_index].id] if after_index < len(self._jobs) else None
        if before is None and after is None:
            new_keys = [KEY_STEP * (i + 1) for i in range(count)]
        elif after is None:
            new_keys = [before + KEY_STEP * (i + 1) for i in range(count)]
        elif before is None:
            new_keys = [after - KEY_STEP * (count - i) for i in range(count)]
        else:
            step = (after - before) / (count + 1)
            if step < _MIN_GAP:
                self._renumber()
                return True
            new_keys = [before + step * (i + 1) for i in range(count)]
        for job, key in zip(self._jobs[index:after_index], new_keys):
            self._set_key(job.id, key)
        return False

    def _renumber(self) -> None:
        old, self.keys = self.keys, {job.id: KEY_STEP * (i + 1) for i, job in enumerate(self._jobs)}
        undo = undo_log()
        if undo is not None:
            undo.append(lambda: setattr(self, "keys", old))
