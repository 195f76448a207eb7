"""`JOB:OUTPUT:SELECT`: serve the output log and figures of any job over Channel Access.

`CURRENT:OUTPUT` holds the running job's output only. A client writes a job id to
`JOB:OUTPUT:SELECT`; the server reads the tail of `<data-dir>/logs/job-<id>.log` and
publishes it in `JOB:OUTPUT`, with the id in `JOB:OUTPUT:ID` (clients check it: another
client may select another job in between), and lists the figures the job saved
(`<data-dir>/logs/job-<id>.plots/figure-<n>.png`, docs/bluesky.md) in `JOB:PLOTS`.
`CURRENT:PLOT` is the newest figure any job saved.
"""

from __future__ import annotations

from typing import Any

from ..contract import texts
from ..contract.limits import OUTPUT_TAIL_BYTES as OUTPUT_TAIL_CHARS
from .deferred import Quick
from .operation import Operation
from .specs import Rejected


def select_output(server: Any, op: Operation, job_id: int) -> Quick:
    """Publish the tail of job `job_id`'s output log and its figures (`selected_output`).

    The file is read (the `JobFiles` port) in the writer's thread without the core lock (`Quick`).
    """
    path = server.log_path(job_id) if server.logs_dir is not None else None

    def read() -> tuple[str, int, list[str]]:
        try:
            found = server.files.log_tail(path, OUTPUT_TAIL_CHARS) if path is not None else None
        except OSError as exc:
            raise Rejected(f"cannot read the output log of job {job_id}: {exc}") from None
        if found is None:
            raise Rejected(f"job {job_id} has no output log on this server")
        text, size = found
        return text, size, server.files.figures(path)

    def then(tail: tuple[str, int, list[str]]) -> None:
        text, size, figures = tail
        server.selected_output = (job_id, text)
        server.selected_plots = (job_id, figures)
        server.touch("job_output", "plots")
        op.job_ids = [job_id]
        op.message = texts.output_selected(job_id, len(text), size)

    return Quick(read, then)


def selected_output(server: Any) -> tuple[int, str]:
    """(job id, output tail) last selected, (0, '') before any selection (takes the lock)."""
    with server.lock:
        return getattr(server, "selected_output", (0, ""))
