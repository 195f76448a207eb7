"""What the publisher reads of the server: the PV contents, each built under the core lock.

A mixin of `ScriptServer` (`core/server.py`): every method takes `self.lock` (an RLock, so
the core may call them with it held) and returns plain values.
"""

from __future__ import annotations

import itertools
from typing import Any

from .. import __version__
from ..contract import limits, nicos_status
from ..contract.enums import JobState, RunState
from .forecast import progress_from_elapsed, queue_finish, remaining
from .groups import batch_progress, current_place, group_of, queued_groups
from .jobs import now_iso, parse_iso

LOG_TAIL_CHARS = limits.OUTPUT_TAIL_BYTES  # characters kept; the PV cuts to bytes
"""Characters of the event log kept for `LOG`."""
SLOTS = 10
"""`QUEUE:<n>:*` slots."""


class Snapshots:
    """Snapshots for publishing (`QUEUE`, `STATUS`, `CURRENT`, counts, state code, ...)."""

    def queue_json(self) -> str:
        """The `QUEUE` PV content: every queued job record in run order."""
        return "[" + ",".join(self.queue_texts()) + "]"

    def queue_texts(self) -> list[str]:
        """Each queued job record's JSON text in run order (each cached until it changes)."""
        with self.lock:  # joined outside the lock
            return [job.json_text() for job in self.queue]

    def queue_summary_texts(self) -> list[str]:
        """Each queued job's `QUEUE:SUMMARY` entry in run order (each cached as its record)."""
        with self.lock:  # joined outside the lock
            return [job.summary_text() for job in self.queue]

    def queue_slots(self) -> list[tuple[int, str, float]]:
        """`QUEUE:<n>:*` content for n = 1..10: (id, name, estimate or -1)."""
        with self.lock:
            head = self.queue.head(SLOTS)
            slots = [(j.id, j.name, j.estimate if j.estimate is not None else -1.0) for j in head]
        return slots + [(0, "", -1.0)] * (SLOTS - len(slots))

    def current_record(self) -> dict[str, Any] | None:
        """The current job's record with live elapsed time, or None."""
        with self.lock:
            if self.current is None:
                return None
            record = self.current.to_dict()
            record["elapsed"] = self.elapsed()
            record["progress"] = self.progress()
            if group_of(self.current) is not None:
                batches = batch_progress(self.current, None, self.queue, self.history)
                record["group"] = current_place(batches, self.current)
            return record

    def elapsed(self) -> float | None:
        """Seconds since the current job started."""
        with self.lock:
            job = self.current
            if job is None or job.started is None:
                return None
            return max(0.0, self.timers.now() - parse_iso(job.started))

    def remaining(self) -> float | None:
        """Expected seconds until the current job ends, or None if unknown."""
        with self.lock:
            job = self.current
            if job is None:
                return None
            if self.job_progress is not None:
                return self.job_progress.remaining(self.active_elapsed())
            return remaining(job.estimate, self.active_elapsed(), job.progress)

    def progress(self) -> float | None:
        """Percent done of the current job, monotonic (see `core.progress.JobProgress`)."""
        with self.lock:
            job = self.current
            if job is None:
                return None
            if self.job_progress is not None:
                return self.job_progress.percent(self.active_elapsed())
            if job.progress is not None:  # adopted after a restart: what it last reported
                return job.progress
            return progress_from_elapsed(self.active_elapsed(), job.estimate)

    def queue_eta(self) -> float:
        """Seconds until the current and every queued job have finished (unknown = 0)."""
        with self.lock:
            return (self.remaining() or 0.0) + max(0.0, self.queue.estimate_total)

    def finish_eta(self) -> float:
        """Seconds until the last job that will run ends (`QUEUE:FINISH`): held, the current."""
        with self.lock:
            return (self.remaining() or 0.0) if self.hold else self.queue_eta()

    def nothing_to_run(self) -> bool:
        """True when no job runs and none will start (idle and empty, or held)."""
        with self.lock:
            return self.current is None and (self.hold or not self.queue)

    def state_code(self) -> int:
        """`STATE:CODE`: NICOS status code of the run state."""
        with self.lock:
            if self.run_state is RunState.IDLE and self.history:
                if self.history[0].state in (JobState.FAILED, JobState.INTERRUPTED):
                    return nicos_status.STATUS_IDLEEXC
            return nicos_status.BY_RUN_STATE[self.run_state]

    def status(self) -> dict[str, Any]:
        """The `STATUS` PV content."""
        with self.lock:
            return {
                "state": self.run_state.value,
                "state_code": self.state_code(),
                "hold": self.hold,
                "on_error": "HOLD" if self.on_error_hold else "CONTINUE",
                "on_invalid": "HOLD" if self.on_invalid_hold else "RUN",
                "hold_reason": self.hold_reason if self.hold else "",
                "current_id": self.current.id if self.current else None,
                "queue_count": len(self.queue),
                "queue_eta": self.queue_eta(),
                "server_time": now_iso(),
                "commands_revision": self.catalogue.revision,
                "version": __version__,
                "groups": self.group_estimates(),
                "store_error": self.unsaved.error,
            }

    def group_estimates(self) -> dict[str, dict[str, Any]]:
        """`STATUS.groups`: per active batch (`tags.group`), queue and progress.

        Its queued jobs and their estimate, and its progress until its last job ends
        (`core.groups.batch_progress`), with the time of day it should end (`finish`).
        """
        with self.lock:
            groups = queued_groups(self.queue)
            batches = batch_progress(self.current, self.remaining(), self.queue, self.history)
            idle = self.nothing_to_run()
        for name, batch in batches.items():
            entry = groups.setdefault(name, {"queued": 0, "estimate": 0.0, "unknown": 0})
            entry.update(batch, finish=queue_finish(batch["remaining"], idle=idle))
        return groups

    def queue_count(self) -> int:
        """`QUEUE:COUNT`."""
        with self.lock:
            return len(self.queue)

    def run_settings(self) -> dict[str, Any]:
        """`STATE` (its index in the enum), `STATE:CODE` and the queue's modes, read together."""
        with self.lock:
            return {
                "state": list(RunState).index(self.run_state),
                "state_code": self.state_code(),
                "hold": self.hold,
                "on_error_hold": self.on_error_hold,
                "on_invalid_hold": self.on_invalid_hold,
            }

    def current_scalars(self) -> dict[str, Any] | None:
        """`CURRENT:*` scalars of the running job (None when idle), read together."""
        with self.lock:
            job = self.current
            if job is None:
                return None
            return {
                "id": job.id,
                "name": job.name,
                "line": job.line,
                "message": job.message,
                "estimate": job.estimate,
                "progress": self.progress(),
                "elapsed": self.elapsed(),
                "remaining": self.remaining(),
            }

    def recent_history(self, count: int) -> list[Any]:
        """The newest `count` finished jobs, newest first (finished records do not change)."""
        with self.lock:
            return list(itertools.islice(self.history, count))

    def history_texts(self) -> list[str]:
        """JSON text of every finished job kept for `HISTORY`, newest first."""
        with self.lock:
            return [job.json_text() for job in self.history]

    def texts(self) -> dict[str, Any]:
        """`LAST_ERROR`, `CURRENT:SCRIPT`, `CURRENT:OUTPUT` and `VALIDATE:RESULT` content."""
        with self.lock:
            return {
                "last_error": self.last_error,
                "script": self.current_source,
                "output": self.output_tail,
                "validate": self.validate_result,
            }

    def replies_list(self) -> list[dict[str, Any]]:
        """The `REPLY` PV content, newest first."""
        with self.lock:
            return [reply.to_dict() for reply in self.replies]

    def log_text(self) -> str:
        """The `LOG` PV content: the tail of the event log."""
        with self.lock:
            return "\n".join(self.event_log)[-LOG_TAIL_CHARS:]
