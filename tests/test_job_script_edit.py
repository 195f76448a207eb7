"""The rule for editing a running script (job/script_edit.py), shared by server and job."""

from __future__ import annotations

import traceback

import pytest

from scriptserver_ioc.job.script_edit import executed_lines_differ, remainder_code

OLD = "a = 1\nb = 2\nfor i in range(3):\n    a += i\nprint(a)\nprint(b)\n"


def test_GIVEN_executed_lines_unchanged_THEN_accepted_and_rest_compiled_with_its_lines():
    new = OLD.replace("print(a)\nprint(b)\n", "c = a + b\nd = 1 / 0\n")
    assert executed_lines_differ(OLD, new, 4) is None
    namespace = {"a": 4, "b": 2}
    with pytest.raises(ZeroDivisionError) as info:
        exec(remainder_code(new, "<job 1>", 4), namespace)
    assert traceback.extract_tb(info.tb)[-1].lineno == 6  # the edited text's own numbering
    assert namespace["c"] == 6 and "i" not in namespace  # lines 1-4 were not run again


def test_GIVEN_executed_line_changed_THEN_message_names_it():
    new = OLD.replace("b = 2", "b = 3")
    assert executed_lines_differ(OLD, new, 4) == (
        "line 2 has already run and may not change: it was 'b = 2', the edit has 'b = 3'"
    )
    assert executed_lines_differ(OLD, new, 1) is None  # line 2 has not run yet


def test_GIVEN_edit_extending_the_last_executed_statement_THEN_refused():
    new = OLD.replace("print(a)\n", "    a -= 1\nprint(a)\n")
    assert "extends the statement at line 3" in executed_lines_differ(OLD, new, 4)


def test_GIVEN_edit_with_syntax_error_THEN_refused_with_line():
    assert executed_lines_differ(OLD, OLD + "print(\n", 4).startswith(
        "the edit does not compile: line 7"
    )
