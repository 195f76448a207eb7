"""The bridge's ordering of job output and log records, without timing: `OutputTailer`.

The tailer reads real files; the core is replaced by the two things the tailer asks of it
(the current job's id, read without a lock, and a job's output file).
"""

from __future__ import annotations

import json
from pathlib import Path

from scriptserver_ioc.nicos.messages import MessageLog
from scriptserver_ioc.nicos.output import LINES_ONE_BY_ONE, PACKED_CHARS, OutputTailer


class Jobs:
    """The core as the tailer sees it: which job is current, where its output goes."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.current: int | None = None

    def current_job_id(self) -> int | None:
        return self.current

    def log_path(self, job_id: int) -> Path:
        return self.logs / f"job-{job_id}.log"

    def run(self, tailer: OutputTailer, job_id: int, output: str) -> None:
        """A job starts, prints and ends as the core logs it; the tailer does not look."""
        self.current = job_id
        tailer.submit({"text": f"job {job_id} started"})
        self.log_path(job_id).write_text(output)
        self.current = None
        tailer.submit({"text": f"job {job_id} DONE"})


def texts(messages: MessageLog) -> list[str]:
    return [entry[3] for entry in json.loads(messages.last(None))]


def test_GIVEN_jobs_that_start_and_end_between_two_looks_WHEN_looked_once_THEN_all_in_order(
    tmp_path,
):
    jobs, messages = Jobs(tmp_path), MessageLog()
    tailer = OutputTailer(jobs, messages)
    jobs.run(tailer, 1, "one a\none b\n")
    jobs.run(tailer, 2, "two a\ntwo b")  # its last line without a newline
    tailer.submit({"text": "idle"})
    assert texts(messages) == []  # nothing is added before the tailer's thread looks
    tailer.poll()
    assert texts(messages) == [
        "job 1 started\n",
        "one a\n",
        "one b\n",
        "job 1 DONE\n",
        "job 2 started\n",
        "two a\n",
        "two b\n",
        "job 2 DONE\n",
        "idle\n",
    ]
    entries = json.loads(messages.last(None))
    assert [e[5] for e in entries] == ["", "1", "1", "", "", "2", "2", "", ""]  # reqid of output


def test_GIVEN_running_job_WHEN_looked_THEN_lines_follow_and_a_burst_is_packed(tmp_path):
    jobs, messages = Jobs(tmp_path), MessageLog()
    tailer = OutputTailer(jobs, messages)
    jobs.current = 5
    tailer.submit({"text": "job 5 started"})
    path = jobs.log_path(5)
    path.write_text("first\n")
    tailer.poll()
    assert texts(messages) == ["job 5 started\n", "first\n"]
    burst = [f"line {i} " + "z" * 50 for i in range(LINES_ONE_BY_ONE * 5)]
    with open(path, "a") as out:
        out.write("\n".join(burst) + "\n")
    tailer.poll()
    packed = texts(messages)[2:]
    assert "".join(packed).splitlines() == burst  # every line, in order
    assert len(packed) < len(burst) / 10 and all(len(t) <= PACKED_CHARS + 1 for t in packed)
