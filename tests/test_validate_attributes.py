"""Unknown attributes of genie and inst: refused only when the jobs' own module lacks them.

The names come from the job interpreter's companion worker (a real process). A refusal is
honest only when that interpreter imports the very module the jobs use; without
genie_python there (the demo), or for a module that makes names on demand, it is a warning.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.validate.companions import CompanionRunner
from scriptserver_ioc.validate.estimates import MemoryDurationHistory
from scriptserver_ioc.validate.validator import Validator

COMMANDS = Path(__file__).parent / "validate_corpus" / "commands"
PRELUDE = "from genie_python import genie as g\n"


def _validator(job_python, command_dirs):
    runner = CompanionRunner(job_python, [str(d) for d in command_dirs])
    validator = Validator(
        Catalogue(list(command_dirs)), runner, MemoryDurationHistory(), prelude_source=PRELUDE
    )
    return validator, runner


@pytest.fixture(scope="module")
def python_without_genie(tmp_path_factory):
    """A job interpreter in which genie_python cannot be imported (a bare venv)."""
    where = tmp_path_factory.mktemp("bare-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    candidates = (where / "bin" / "python", where / "Scripts" / "python.exe")
    python = next(p for p in candidates if p.exists())
    found = subprocess.run([str(python), "-c", "import genie_python"], capture_output=True)
    if found.returncode == 0:
        pytest.skip("the base interpreter has genie_python installed")
    return str(python)


@pytest.fixture(scope="module")
def inst_dirs(tmp_path_factory):
    """Command directories with an `inst` package: plain, and one with a module __getattr__."""
    made = {}
    for kind, extra in (("plain", ""), ("dynamic", "def __getattr__(name):\n    return name\n")):
        root = tmp_path_factory.mktemp(f"inst-{kind}")
        package = root / "inst"
        package.mkdir()
        (package / "__init__.py").write_text(f"def do_sans(sample):\n    pass\n{extra}")
        (package / "sans.py").write_text("def setup_dae():\n    pass\n")
        made[kind] = root
    return made


def test_GIVEN_genie_in_the_job_interpreter_WHEN_a_name_it_lacks_THEN_refused():
    pytest.importorskip("genie_python")
    validator, runner = _validator(sys.executable, [COMMANDS])
    try:
        typo = validator.check({"script": "g.begin()\ng.waitfor_uamp(40)\n"})
        newer = validator.check({"script": "g.waitfor_beam_current(40)\n"})
        own = validator.check({"script": "g.my_helper = print\ng.my_helper('x')\n"})
    finally:
        runner.close()

    (error,) = typo.errors
    assert not typo.ok and error["line"] == 2
    assert "has no 'waitfor_uamp' (did you mean 'g.waitfor_uamps'?)" in error["message"]
    # a name the installed genie_python lacks fails every job that uses it: refused too
    assert not newer.ok and "has no 'waitfor_beam_current'" in newer.errors[0]["message"]
    assert own.ok and own.warnings == [], (own.errors, own.warnings)


def test_GIVEN_no_genie_in_the_job_interpreter_WHEN_a_name_26x_lacks_THEN_only_a_warning(
    python_without_genie,
):
    validator, runner = _validator(python_without_genie, [COMMANDS])
    try:
        typo = validator.check({"script": "g.begin()\ng.waitfor_uamp(40)\n"})
        newer = validator.check({"script": "g.waitfor_beam_current(40)\n"})
        known = validator.check({"script": "g.waitfor_uamps(40)\n"})
    finally:
        runner.close()

    # the instrument's genie_python may be newer and have it: the script is accepted
    assert typo.ok and typo.errors == []
    (warning,) = [w for w in typo.warnings if "waitfor_uamp'" in w]
    assert warning.startswith("line 2: 'g.waitfor_uamp': genie_python 26.x's genie module")
    assert "(did you mean 'g.waitfor_uamps'?)" in warning
    assert newer.ok and any("no 'waitfor_beam_current'" in w for w in newer.warnings)
    assert known.ok and not any("genie module" in w for w in known.warnings)


def test_GIVEN_inst_package_WHEN_names_checked_THEN_submodules_known_and_typos_refused(
    inst_dirs,
):
    validator, runner = _validator(sys.executable, [COMMANDS, inst_dirs["plain"]])
    try:
        good = validator.check({"script": "import inst\ninst.sans.setup_dae()\ninst.do_sans(1)\n"})
        typo = validator.check({"script": "import inst\ninst.do_sanss('Si')\n"})
    finally:
        runner.close()

    assert good.ok and good.warnings == [], (good.errors, good.warnings)
    (error,) = typo.errors
    assert error["line"] == 2
    assert (
        "'inst.do_sanss': the inst module has no 'do_sanss' (did you mean 'inst.do_sans'?)"
        in (error["message"])
    )


def test_GIVEN_module_with_getattr_WHEN_unlisted_name_THEN_a_warning_not_a_refusal(inst_dirs):
    validator, runner = _validator(sys.executable, [COMMANDS, inst_dirs["dynamic"]])
    try:
        verdict = validator.check({"script": "import inst\ninst.do_sanss('Si')\n"})
    finally:
        runner.close()

    assert verdict.ok and verdict.errors == []
    (warning,) = verdict.warnings
    assert warning.startswith(
        "line 2: 'inst.do_sanss': the inst module (which makes names on demand) lists no "
        "'do_sanss' (did you mean 'inst.do_sans'?)"
    )
