"""Descriptions are whole sentences: the docstring's first paragraph, wrapped lines joined."""

from __future__ import annotations

import pytest

from scriptserver_ioc.catalogue.reader import read_command_file

# The wrapped first sentence is how InstrumentScripts writes them, e.g.
# instrument/larmor/sans.py (setup_dae_scanning12: "Set the wiring tables for performing a
# scan where the entire main\ndetector is contained in only two channels.").
CASES = [
    (
        '"""Set the wiring tables for a scan where the entire main\n'
        "    detector is contained in only two channels.\n"
        '    """',
        "Set the wiring tables for a scan where the entire main detector is contained in only "
        "two channels.",
    ),
    (
        '"""Count for a while.\n\n    Then stop counting and save the data.\n    """',
        "Count for a while.",
    ),
    (
        '"""Move the sample\n    changer.\n    Args:\n        x: where.\n    """',
        "Move the sample changer.",
    ),
    (
        '"""Scan a block\n    over a range.\n\n    Parameters\n    ----------\n'
        '    x : float\n        where.\n    """',
        "Scan a block over a range.",
    ),
    ('"""Measure\n    Returns\n    -------\n    float\n    """', "Measure"),
    ('"""Set a field.\n    :param x: the field.\n    """', "Set a field."),
    ('"""Args:\n        x: where.\n    """', ""),
    ('"""Wrapped   with    odd\n\t spacing."""', "Wrapped with odd spacing."),
]


@pytest.mark.parametrize("docstring, description", CASES)
def test_GIVEN_docstring_WHEN_read_THEN_description_is_first_paragraph(
    tmp_path, docstring, description
):
    path = tmp_path / "cmds.py"
    path.write_text(f"def go(x=1):\n    {docstring}\n", encoding="utf-8")

    (command,) = read_command_file(path).commands

    assert command.description == description
    assert command.to_json()["description"] == description


def test_GIVEN_script_definition_help_WHEN_wrapped_THEN_first_paragraph_joined(tmp_path):
    path = tmp_path / "do_trans.py"
    path.write_text(
        "class DoRun(ScriptDefinition):\n"
        "    def run(self, sample='water'):\n"
        "        pass\n"
        "    def get_help(self):\n"
        "        return '''\n"
        "Measure a transmission\n"
        "of the sample.\n\n"
        "Then a SANS run.\n"
        "'''\n",
        encoding="utf-8",
    )

    (command,) = read_command_file(path).commands

    assert command.description == "Measure a transmission of the sample."
