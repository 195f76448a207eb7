"""Companion checks run in a warm worker process: timeouts, import failures, crashes, reloads."""

import sys
import threading
import time

import pytest

from scriptserver_ioc.validate.companions import CompanionError, CompanionRunner

GOOD = """
import time

def set_ei(energy: float, wait: bool = True):
    pass

def validate_set_ei(energy, wait=True):
    print("a companion that prints must not break the protocol")
    if energy <= 0:
        return "energy must be positive"

def estimate_set_ei(energy, wait=True):
    return 30.0 if wait else 1.0

def stall(x=1):
    pass

def validate_stall(x=1):
    time.sleep(1000)

def crash(x=1):
    pass

def validate_crash(x=1):
    import os
    os._exit(3)

def odd(x=1):
    pass

def validate_odd(x=1):
    return 42

def estimate_odd(x=1):
    return -5
"""


def entry(directory, name, module="instrument"):
    return {
        "name": name,
        "module": module,
        "path": str(directory / f"{module}.py"),
        "kind": "function",
    }


@pytest.fixture
def commands(tmp_path):
    (tmp_path / "instrument.py").write_text(GOOD)
    (tmp_path / "broken.py").write_text(
        "import no_such_module_here\n\ndef broken(x=1):\n    pass\n"
    )
    return tmp_path


@pytest.fixture
def runner(commands):
    runner = CompanionRunner(sys.executable, [commands], timeout=1.0)
    yield runner
    runner.close()


def test_GIVEN_valid_arguments_WHEN_checked_THEN_no_error_and_declared_estimate(runner, commands):
    result = runner.check(entry(commands, "set_ei"), {"energy": 25.0, "wait": True}, revision=1)
    assert (result.error, result.estimate, result.problem) == (None, 30.0, None)


def test_GIVEN_invalid_arguments_WHEN_checked_THEN_the_companions_message(runner, commands):
    result = runner.check(entry(commands, "set_ei"), {"energy": -1.0, "wait": True}, revision=1)
    assert result.error == "energy must be positive"
    assert result.estimate is None  # not estimated when invalid


def test_GIVEN_companion_returning_nonsense_WHEN_checked_THEN_said_clearly(runner, commands):
    result = runner.check(entry(commands, "odd"), {"x": 1}, revision=1)
    assert result.error == "validate_odd returned 42; expected None or an error message"
    result = runner.check(entry(commands, "odd"), {"x": 1}, validate=False, revision=1)
    assert result.problem == "estimate_odd returned -5; expected seconds >= 0"


def test_GIVEN_validate_that_hangs_WHEN_checked_THEN_timeout_error_and_next_check_works(
    runner, commands
):
    started = time.monotonic()
    with pytest.raises(CompanionError, match="did not finish within 1 s"):
        runner.check(entry(commands, "stall"), {"x": 1}, revision=1)
    assert time.monotonic() - started < 3
    result = runner.check(entry(commands, "set_ei"), {"energy": 5.0, "wait": False}, revision=1)
    assert result.estimate == 1.0
    assert runner.restarts == 1


def test_GIVEN_validate_that_kills_the_worker_WHEN_checked_THEN_crash_error_and_next_check_works(
    runner, commands
):
    with pytest.raises(CompanionError, match="crashed.*exited with code 3"):
        runner.check(entry(commands, "crash"), {"x": 1}, revision=1)
    result = runner.check(entry(commands, "set_ei"), {"energy": 5.0, "wait": True}, revision=1)
    assert result.estimate == 30.0


def test_GIVEN_module_that_cannot_be_imported_WHEN_checked_THEN_clear_error_and_others_unaffected(
    runner, commands
):
    with pytest.raises(CompanionError, match="No module named 'no_such_module_here'"):
        runner.check(entry(commands, "broken", "broken"), {"x": 1}, revision=1)
    assert runner.check(entry(commands, "set_ei"), {"energy": 5.0}, revision=1).estimate == 30.0
    with pytest.raises(CompanionError, match="no_such_module_here"):  # still reported
        runner.check(entry(commands, "broken", "broken"), {"x": 1}, revision=1)
    assert runner.restarts == 0


def test_GIVEN_edited_module_WHEN_revision_changes_THEN_new_code_is_used(runner, commands):
    command = entry(commands, "set_ei")
    assert runner.check(command, {"energy": 5.0}, revision=1).estimate == 30.0
    path = commands / "instrument.py"
    path.write_text(GOOD.replace("return 30.0 if wait", "return 45.0 if wait"))
    assert runner.check(command, {"energy": 5.0}, revision=1).estimate == 30.0  # same revision
    assert runner.check(command, {"energy": 5.0}, revision=2).estimate == 45.0


def test_GIVEN_threads_WHEN_checking_at_once_THEN_every_answer_matches_its_question(
    runner, commands
):
    command = entry(commands, "set_ei")
    answers = {}

    def ask(i):
        energy = float(i + 1) if i % 2 else -float(i + 1)
        result = runner.check(command, {"energy": energy, "wait": bool(i % 3)}, revision=1)
        answers[i] = (energy, result)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == 16
    for i, (energy, result) in answers.items():
        if energy <= 0:
            assert result.error == "energy must be positive"
        else:
            assert result.estimate == (30.0 if i % 3 else 1.0)


def test_GIVEN_job_interpreter_that_does_not_exist_WHEN_checked_THEN_clear_error(commands):
    runner = CompanionRunner(str(commands / "no-python"), [commands])
    with pytest.raises(CompanionError, match="cannot start the job interpreter"):
        runner.check(entry(commands, "set_ei"), {"energy": 5.0})


def test_GIVEN_module_WHEN_star_names_asked_THEN_its_public_names(runner):
    names = runner.module_names("json")
    assert "dumps" in names and "_default_encoder" not in names
    with pytest.raises(CompanionError, match="cannot import no_such_module_here"):
        runner.module_names("no_such_module_here")


def test_GIVEN_module_slow_to_import_WHEN_checked_THEN_import_gets_the_start_allowance(tmp_path):
    (tmp_path / "slow.py").write_text(
        "import time\ntime.sleep(1.5)\n\ndef heavy(x=1):\n    pass\n\n"
        "def validate_heavy(x=1):\n    return None if x > 0 else 'x must be positive'\n"
    )
    runner = CompanionRunner(sys.executable, [tmp_path], timeout=1.0, start_timeout=10.0)
    try:
        command = entry(tmp_path, "heavy", "slow")
        assert runner.check(command, {"x": 0}).error == "x must be positive"
        started = time.monotonic()
        assert runner.check(command, {"x": 1}).error is None
        assert time.monotonic() - started < 1.0  # imported once
    finally:
        runner.close()


def test_GIVEN_module_whose_import_hangs_WHEN_checked_THEN_clear_error(tmp_path):
    (tmp_path / "stuck.py").write_text(
        "import time\ntime.sleep(1000)\n\ndef never(x=1):\n    pass\n"
    )
    runner = CompanionRunner(sys.executable, [tmp_path], timeout=1.0, start_timeout=2.0)
    try:
        with pytest.raises(CompanionError, match="importing the module of never did not finish"):
            runner.check(entry(tmp_path, "never", "stuck"), {"x": 1})
    finally:
        runner.close()


def test_GIVEN_new_revision_WHEN_preloaded_THEN_modules_imported_before_the_first_check(
    runner, commands
):
    problems = runner.preload(
        [entry(commands, "set_ei"), entry(commands, "stall"), entry(commands, "broken", "broken")],
        revision=7,
    )
    assert len(problems) == 1 and "no_such_module_here" in problems[0]
    (commands / "instrument.py").write_text("raise RuntimeError('not imported again')\n")
    result = runner.check(entry(commands, "set_ei"), {"energy": 2.0}, revision=7)
    assert result.estimate == 30.0  # the module imported by preload answered
