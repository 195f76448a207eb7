"""The record of a job ended on request does not depend on what the process reported."""

from __future__ import annotations

from scriptserver_ioc.core.ending import Ending, ended_error

TRACEBACK = 'Traceback (most recent call last):\n  File "<job 3>", line 4\nJobAborted: x\n'


def test_GIVEN_blackbox_job_WHEN_any_report_THEN_same_record():
    ending = Ending("aborted", "alice@ndx")
    reports = [
        {"type": "JobAborted", "message": "x", "line": 5, "traceback": TRACEBACK},
        {"type": "ProcessExit", "message": "killed by signal 15", "line": None},
        None,
    ]
    records = [ended_error(ending, r, blackbox=True, last_line=None) for r in reports]
    assert records[0] == records[1] == records[2]
    assert records[0] == {
        "type": "JobAborted",
        "message": "aborted by alice@ndx",
        "line": None,
        "traceback": "",
    }


def test_GIVEN_skip_of_traced_job_THEN_says_skipped_at_line_with_job_frames():
    ending = Ending("skipped", "bob@ndx")
    error = ended_error(ending, {"type": "JobAborted", "line": 4, "traceback": TRACEBACK}, False, 6)
    assert error == {
        "type": "JobSkipped",
        "message": "skipped by bob@ndx at line 4",
        "line": 4,
        "traceback": TRACEBACK,
    }


def test_GIVEN_stop_killing_a_job_THEN_line_is_the_last_reported():
    ending = Ending("stopped", "", kill=True)
    error = ended_error(ending, {"type": "ProcessExit", "message": "signal 9"}, False, 7)
    assert error["message"] == "stopped by someone (killed) at line 7"
    assert error["line"] == 7 and error["traceback"] == ""


def test_GIVEN_cleanup_failing_while_aborting_THEN_that_error_is_kept_and_named():
    ending = Ending("aborted", "carol@ndx")
    reported = {"type": "OSError", "message": "disk full", "line": 9, "traceback": "tb"}
    error = ended_error(ending, reported, False, 9)
    assert error["type"] == "OSError" and error["traceback"] == "tb"
    assert error["message"] == "aborted by carol@ndx at line 9; while ending: OSError: disk full"
