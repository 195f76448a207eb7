"""The catalogue's checker view follows edits: import errors, generated names, packages.

Real checker processes (the job interpreter importing the modules), real files edited.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from pathlib import Path

from waiting import wait_until

from scriptserver_ioc.catalogue import BindError, Catalogue
from scriptserver_ioc.catalogue.live import LiveChecker

GOOD = '''
def count(frames: int = 10):
    """Count frames."""
'''

BROKEN = "import scriptserver_no_such_module_13\n" + GOOD

LOOP = '''
import functools


class _Instrument:
    def home(self, axis: str = "x"):
        """Home an axis."""

    def park(self):
        """Park the instrument."""


def _wrap(obj, name):
    @functools.wraps(getattr(obj, name))
    def inner(*args, **kwargs):
        return getattr(obj, name)(*args, **kwargs)

    return inner


_obj = _Instrument()
for _name in {names!r}:
    globals()[_name] = _wrap(_obj, _name)
'''


def write(path, text, step=[0]):  # noqa: B006 - a counter of edits, so every stat differs
    path.write_text(text, encoding="utf-8")
    step[0] += 1
    stamp = time.time() - 3600 + step[0]
    os.utime(path, (stamp, stamp))


def live_catalogue(directory, on_late_change=None, **options) -> Catalogue:
    catalogue = Catalogue([directory], live=LiveChecker(sys.executable, [directory], **options))
    catalogue.on_late_change = on_late_change
    catalogue.reload()
    return catalogue


def test_GIVEN_module_WHEN_edited_to_fail_import_and_back_THEN_errors_follow(tmp_path):
    path = tmp_path / "counting.py"
    write(path, GOOD)
    catalogue = live_catalogue(tmp_path)
    assert catalogue.errors == [] and catalogue.get("count").import_error is None

    write(path, BROKEN)
    assert catalogue.reload()

    (error,) = catalogue.errors
    assert error["line"] == 1 and "scriptserver_no_such_module_13" in error["message"]
    assert "scriptserver_no_such_module_13" in catalogue.get("count").to_json()["import_error"]
    try:
        catalogue.bind("count", [], {})
    except BindError as exc:
        assert "No module named 'scriptserver_no_such_module_13'" in str(exc)
    else:
        raise AssertionError("a command of a module that cannot import was bound")

    write(path, GOOD)
    assert catalogue.reload()
    assert catalogue.errors == [] and catalogue.bind("count", [], {}) == {"frames": 10}


def test_GIVEN_names_made_in_a_loop_WHEN_loop_edited_THEN_generated_commands_follow(tmp_path):
    path = tmp_path / "motion.py"
    write(path, LOOP.format(names=["home"]))
    catalogue = live_catalogue(tmp_path)
    assert catalogue.names() == ["home"]
    assert catalogue.get("home").found == "generated"
    assert catalogue.get("home").signature == "home(axis: str = 'x')"

    write(path, LOOP.format(names=["home", "park"]))
    assert catalogue.reload()

    assert catalogue.names() == ["home", "park"]
    assert catalogue.get("park").description == "Park the instrument."


def test_GIVEN_package_WHEN_inner_module_edited_THEN_package_read_again(tmp_path):
    package = tmp_path / "beamline"
    package.mkdir()
    write(package / "__init__.py", "from .moves import *  # noqa: F403\n")
    write(package / "moves.py", GOOD)
    catalogue = live_catalogue(tmp_path)
    assert catalogue.names() == ["count"]

    write(package / "moves.py", GOOD.replace("count", "measure"))
    assert catalogue.reload()

    assert catalogue.names() == ["measure"]
    assert catalogue.get("measure").found == "re-export"


def test_GIVEN_module_slow_to_import_WHEN_checked_THEN_set_aside_reported_then_described(
    tmp_path,
):
    write(tmp_path / "slow.py", "import time\ntime.sleep(3)\n" + LOOP.format(names=["home"]))
    write(tmp_path / "counting.py", GOOD)

    catalogue = live_catalogue(tmp_path, slow_after=0.5)

    assert catalogue.names() == ["count"]  # described without waiting for slow.py
    (error,) = catalogue.errors
    assert error["file"].endswith("slow.py") and error["environment"] == "simulated"
    assert "importing module 'slow' has not finished after 0.5 s" in error["message"]
    wait_until(lambda: catalogue.names() == ["count", "home"], timeout=20)
    (error,) = catalogue.errors
    took = re.search(r"importing module 'slow' took (\d+\.\d) s", error["message"])
    assert took and float(took[1]) >= 3.0, error  # its own time.sleep(3), at least
    assert catalogue.get("home").import_error is None


def test_GIVEN_module_that_never_finishes_WHEN_checked_THEN_reported_jobs_not_refused(tmp_path):
    write(tmp_path / "hung.py", "import time\ntime.sleep(30)\n" + GOOD)
    catalogue = live_catalogue(tmp_path, timeout=1.5, slow_after=0.5)

    def too_long():
        return any("took longer than 1.5 s" in e["message"] for e in catalogue.errors)

    wait_until(too_long, timeout=20)
    assert catalogue.bind("count", [], {}) == {"frames": 10}  # a job may still import it


def test_GIVEN_job_interpreter_missing_WHEN_checked_THEN_every_file_says_why(tmp_path):
    write(tmp_path / "counting.py", GOOD)
    catalogue = Catalogue([tmp_path], live=LiveChecker("/nonexistent/python3", [tmp_path]))
    catalogue.reload()

    (error,) = catalogue.errors
    assert "/nonexistent/python3" in error["message"]


# Syntax the parser accepts but the compiler rejects: only importing finds it.
COMPILER_ONLY = GOOD + "\nx = 1\nreturn x\n"
# Syntax this server's Python reads but an older job interpreter does not (3.10's match).
NEWER_SYNTAX = (
    GOOD
    + '''
def route(command: str = "go"):
    """Dispatch a command."""
    match command:
        case "go":
            return 1
'''
)


def test_GIVEN_code_only_the_compiler_rejects_WHEN_checked_THEN_error_with_its_line(tmp_path):
    write(tmp_path / "counting.py", COMPILER_ONLY)

    catalogue = live_catalogue(tmp_path)

    (error,) = catalogue.errors
    assert error["line"] == 6
    assert "SyntaxError: 'return' outside function" in error["message"]


def test_GIVEN_older_job_interpreter_WHEN_newer_syntax_THEN_reported_with_its_line(tmp_path):
    from test_runner_support import python_at_least

    python38 = python_at_least((3, 8))
    if python38 is None:
        import pytest

        pytest.skip("no python3.8 here")
    write(tmp_path / "routing.py", NEWER_SYNTAX)
    catalogue = Catalogue([tmp_path], live=LiveChecker(python38, [tmp_path]))
    assert catalogue.errors == []  # this server's Python reads it

    catalogue.reload()

    (error,) = catalogue.errors
    assert error["line"] == 7 and "SyntaxError" in error["message"]
    assert catalogue.get("route").import_error is not None


# A module whose import blocks far longer than the test runs (a PV read that never answers).
BLOCKING = "import time\n\ntime.sleep(600)\n" + LOOP
# A module that imports only in the main thread, as some libraries require (signal handlers,
# an event loop): imported after a blocking one, it must still be judged as a job sees it.
MAIN_THREAD_ONLY = """
import threading

if threading.current_thread() is not threading.main_thread():
    raise RuntimeError("imported outside the main thread")


def _align(axis: str = "x"):
    \"\"\"Align an axis.\"\"\"


for _name in ("align",):
    globals()[_name] = _align
"""


def test_GIVEN_several_modules_blocking_at_import_WHEN_checked_THEN_view_published_slow_named(
    tmp_path,
):
    """Several blocking modules hold back no other: by condition (their imports never end)."""
    blocking = [f"a_blocking_{n}" for n in range(8)]
    for n, name in enumerate(blocking):
        write(tmp_path / f"{name}.py", BLOCKING.format(names=[f"blocked_{n}"]))
    write(tmp_path / "b_main_only.py", MAIN_THREAD_ONLY)
    write(tmp_path / "c_motion.py", LOOP.format(names=["home", "park"]))
    write(tmp_path / "d_counting.py", GOOD)

    catalogue = live_catalogue(tmp_path, slow_after=2.0)
    try:
        # every module that does not block is described, made-in-code names included
        assert catalogue.names() == ["align", "count", "home", "park"]
        assert catalogue.get("align").import_error is None  # judged in the main thread
        assert catalogue.bind("park", [], {}) == {}
        assert catalogue.bind("count", [5], {}) == {"frames": 5}
        # each blocking module is named slow, in the checker's environment
        named = {
            Path(e["file"]).stem: e
            for e in catalogue.errors
            if "has not finished after 2 s" in e["message"]
        }
        assert sorted(named) == blocking, catalogue.errors
        assert {e["environment"] for e in named.values()} == {"simulated"}
        assert len(catalogue.errors) == len(blocking)
        # published while every blocking import is still running: none of their names yet
        assert not any(name.startswith("blocked_") for name in catalogue.names())
    finally:
        catalogue.live.close()


def test_GIVEN_describe_in_flight_WHEN_unchanged_file_read_again_THEN_description_lands(tmp_path):
    """A file written just now is read again at the next reload (its timestamp may hide a
    second edit); unchanged, it keeps its entry, so the checker's answer still lands."""
    (tmp_path / "motion.py").write_text(  # now: within the timestamp's doubt
        "import time\n\ntime.sleep(1)\n" + LOOP.format(names=["home"]), encoding="utf-8"
    )
    catalogue = Catalogue([tmp_path], live=LiveChecker(sys.executable, [tmp_path]))
    describing = threading.Thread(target=catalogue.describe_pending)
    describing.start()
    catalogue.reload(live=False)  # the watcher's next look, while the module imports
    describing.join(timeout=30)

    assert catalogue.names() == ["home"]
