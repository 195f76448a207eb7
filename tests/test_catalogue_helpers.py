"""Which public functions are helpers, and when a package makes a helper a command.

The rule (docs/catalogue.md, "What is a command"): a function a package re-exports by
name, or one whose input() is conditional, is a command; a package's star import makes a
command of a function only a class of its file calls, not of a factory or set-up code.
"""

from __future__ import annotations

import textwrap

import pytest

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.catalogue.reader import read_command_file

CONSOLE = {
    "unconditional": ("def ask(prompt):\n    return input(prompt)\n", False),
    "in a try": (
        "def ask():\n    try:\n        return input()\n    finally:\n        pass\n",
        False,
    ),
    "in while True": (
        "def ask():\n    while True:\n        if input() == 'y':\n            break\n",
        False,
    ),
    "in the test of an if": ("def ask():\n    if input() == 'y':\n        return 1\n", False),
    "under an if": ("def ask(prompt_user: bool):\n    if prompt_user:\n        input()\n", True),
    "in an else": (
        "def ask(quiet=False):\n    if quiet:\n        pass\n    else:\n        input()\n",
        True,
    ),
    "in a for loop": ("def ask(items):\n    for item in items:\n        input(item)\n", True),
    "in a while loop": ("def ask(n):\n    while n:\n        n = input()\n", True),
    "after and": ("def ask(prompt_user):\n    return prompt_user and input()\n", True),
    "in a conditional expression": ("def ask(p):\n    return input() if p else ''\n", True),
    "in a nested function": (
        "def ask():\n    def inner():\n        return input()\n    return 1\n",
        True,
    ),
    "in an except handler": (
        "def ask():\n    try:\n        pass\n    except OSError:\n        input()\n",
        True,
    ),
}


@pytest.mark.parametrize("case", sorted(CONSOLE))
def test_GIVEN_function_calling_input_WHEN_read_THEN_command_only_if_input_is_conditional(
    tmp_path, case
):
    source, is_command = CONSOLE[case]
    path = tmp_path / "console.py"
    path.write_text(source, encoding="utf-8")

    result = read_command_file(path)

    assert ([c.name for c in result.commands] == ["ask"]) is is_command, case
    assert ("ask" in result.helpers) is not is_command


def package(tmp_path, init: str, modules: dict[str, str]) -> Catalogue:
    root = tmp_path / "inst"
    root.mkdir()
    (root / "__init__.py").write_text(textwrap.dedent(init), encoding="utf-8")
    for name, text in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(text), encoding="utf-8")
    return Catalogue([tmp_path])


DETECTORS = '''
def specific_spectra(spectra_list, preconfig=None):
    """Create a detector over spectra."""

    def inner(acc):
        return acc

    return inner


def generic_pol(spectra):
    """Create a polarised detector."""

    def inner_pol():
        return spectra

    return inner_pol
'''

SANS = '''
def sleep(seconds):
    """Wait with the instrument's wait."""


def get_user_dir():
    """Set up the user directory."""


get_user_dir()


class Instrument:
    def measure(self):
        sleep(1)
'''


def test_GIVEN_factory_WHEN_package_re_exports_it_by_name_THEN_command_else_helper(tmp_path):
    catalogue = package(
        tmp_path, "from .detector import specific_spectra\n", {"detector": DETECTORS}
    )

    command = catalogue.get("specific_spectra")

    assert catalogue.names() == ["specific_spectra"]  # generic_pol is not re-exported by name
    assert command.found == "re-export" and command.module == "inst"
    assert command.description == "Create a detector over spectra."


def test_GIVEN_star_import_WHEN_helper_of_a_class_THEN_command_but_set_up_and_factory_not(
    tmp_path,
):
    catalogue = package(
        tmp_path,
        "from .sans import *\nfrom .detector import *\n",
        {"sans": SANS, "detector": DETECTORS},
    )

    assert catalogue.names() == ["sleep"]


def test_GIVEN_ordinary_command_file_WHEN_it_imports_a_helper_by_name_THEN_not_served(tmp_path):
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "__init__.py").write_text("")
    (tmp_path / "tools" / "detector.py").write_text(DETECTORS)
    (tmp_path / "scans.py").write_text(
        'from tools.detector import specific_spectra\n\n\ndef count():\n    """Count."""\n'
    )

    assert Catalogue([tmp_path]).names() == ["count"]  # a tool the file uses, not published
