"""A bad value handed to genie_python through a variable: the dry run names the parameter.

Real dry-run processes (job interpreter, genie_python simulated), as the pre-flight runs.
"""

from __future__ import annotations

import sys

import pytest

from scriptserver_ioc.validate.dryrun import run_dry


def dry(source: str) -> dict:
    return run_dry(source, commands=[], command_dirs=[], job_python=sys.executable, time_limit=10)


def test_GIVEN_text_for_seconds_through_a_variable_WHEN_dry_run_THEN_parameter_error_at_its_line():
    pytest.importorskip("genie_python")
    source = (
        "from genie_python import genie as g\n"
        "wait = 'five minutes'\n"
        "g.begin()\n"
        "g.waitfor_time(seconds=wait)\n"
        "g.end()\n"
    )

    error = dry(source)["error"]

    assert error["type"] == "ParameterError" and error["line"] == 4
    assert error["message"] == "waitfor_time: parameter 'seconds' expects float, got 'five minutes'"
    assert "TypeError" in error["traceback"]  # what genie raised is still there to read


@pytest.mark.parametrize(
    "source",
    [
        "x = 'a' + 1\n",  # the script's own TypeError
        "from genie_python import genie as g\ng.waitfor_time(seconds=1, minutes=2, hours=3, x=1)\n",
    ],
)
def test_GIVEN_type_error_not_from_a_bad_genie_argument_WHEN_dry_run_THEN_reported_as_it_is(source):
    pytest.importorskip("genie_python")

    error = dry(source)["error"]

    assert error["type"] == "TypeError" and error["message"].startswith("TypeError: ")
