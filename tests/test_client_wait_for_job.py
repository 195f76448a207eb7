"""`wait_for_job` across the moment a job is in none of QUEUE, CURRENT:ID and HISTORY.

The server publishes those PVs one after another, so a poll can fall between them while a
job is handed over or ends. The client must not call that job removed.
"""

import pytest

from scriptserver_ioc.client.client import ClientError, ScriptServerClient


class _Views(ScriptServerClient):
    """A client whose reads step through a scripted list of (queued, current, finished)."""

    def __init__(self, views: list[tuple[list[int], int, dict | None]]) -> None:  # noqa: D107
        self.views = views
        self.reads = 0

    def _view(self) -> tuple[list[int], int, dict | None]:
        return self.views[min(self.reads, len(self.views) - 1)]

    def get(self, name: str):  # noqa: D102
        assert name == "CURRENT:ID"
        self.reads += 1  # each poll starts with CURRENT:ID
        return self._view()[1]

    def queue(self):  # noqa: D102
        return [{"id": job_id} for job_id in self._view()[0]]

    def finished(self, job_id: int):  # noqa: D102
        return self._view()[2]


def test_GIVEN_job_in_no_view_for_a_moment_WHEN_waited_for_THEN_its_record():
    done = {"id": 7, "state": "DONE"}
    client = _Views([([7], 0, None), ([], 0, None), ([], 0, None), ([], 7, None), ([], 0, done)])
    assert client.wait_for_job(7, timeout=10, interval=0) == done


def test_GIVEN_job_removed_WHEN_waited_for_THEN_error_once_missing_a_while():
    client = _Views([([7], 0, None), ([], 0, None)])
    with pytest.raises(ClientError, match="job 7 is not queued, running or finished"):
        client.wait_for_job(7, timeout=10, interval=0.05)
    assert client.reads > 2  # it looked again before giving up
