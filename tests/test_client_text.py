"""What the console tool says, without a server: failures, typos, edits in $EDITOR."""

from __future__ import annotations

import sys

import pytest

from scriptserver_ioc.client.channels import ClientError
from scriptserver_ioc.client.cli import build_parser
from scriptserver_ioc.client.formatting import failure
from scriptserver_ioc.client.interactive import edit_in_editor, editable_text, spec_from_edit
from scriptserver_ioc.client.timeline import preflight_estimate


def test_GIVEN_abort_error_naming_its_line_WHEN_shown_THEN_line_said_once():
    error = {"type": "JobAborted", "message": "aborted by alice@host at line 4", "line": 4}
    assert failure(error) == "JobAborted: aborted by alice@host at line 4"
    plain = {"type": "ZeroDivisionError", "message": "division by zero", "line": 2}
    assert failure(plain) == "ZeroDivisionError at line 2: division by zero"


@pytest.mark.parametrize(
    "argv, wanted",
    [(["stauts"], "did you mean 'status'?"), (["on-error", "hlod"], "did you mean 'HOLD'?")],
)
def test_GIVEN_mistyped_verb_or_choice_WHEN_parsed_THEN_exit_2_with_suggestion(
    argv, wanted, capsys
):
    with pytest.raises(SystemExit) as ended:
        build_parser().parse_args(argv)
    assert ended.value.code == 2
    assert wanted in capsys.readouterr().err


def test_GIVEN_file_job_WHEN_edited_without_content_THEN_refused_naming_the_file():
    with pytest.raises(ClientError, match="edit that file"):
        editable_text({"id": 3, "kind": "file", "file": "night.py"})


def test_GIVEN_editor_WHEN_job_text_edited_THEN_saved_text_returned(tmp_path, monkeypatch):
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('25', '30'))\n"
    )
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    job = {"id": 1, "kind": "command", "command": "set_ei", "args": {"energy": 25}}
    text = edit_in_editor(job)
    assert text == "set_ei(energy=30)\n"
    assert spec_from_edit(job, text) == {"call": "set_ei(energy=30)"}
    script = {"id": 2, "kind": "script", "script": "x = 1\n"}
    assert edit_in_editor(script) is None  # unchanged: nothing to send


def test_GIVEN_stopped_dry_run_WHEN_its_estimate_shown_THEN_a_lower_bound_to_its_line():
    stopped = {"verdict": "unknown", "estimate": None}
    assert preflight_estimate({**stopped, "partial_estimate": {"seconds": 30.0, "line": 12}}) == (
        "≥ 0:30 (to line 12)"
    )
    assert preflight_estimate({"verdict": "ok", "estimate": 30.0}) == "0:30"
    assert preflight_estimate({**stopped, "partial_estimate": None}) == ""
