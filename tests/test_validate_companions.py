"""Companion checks run in a warm worker process: timeouts, import failures, crashes, reloads."""

import sys
import threading

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
    with pytest.raises(CompanionError, match="did not finish within 1 s"):  # its limit
        runner.check(entry(commands, "stall"), {"x": 1}, revision=1)
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
        "import os, sys, time\nsys.slow_imports = getattr(sys, 'slow_imports', 0) + 1\n"
        "time.sleep(1.5)\n\ndef heavy(x=1):\n    pass\n\n"
        "def validate_heavy(x=1):\n"
        "    if x == 2:\n        return f'imported {sys.slow_imports} in {os.getpid()}'\n"
        "    return None if x > 0 else 'x must be positive'\n"
    )
    runner = CompanionRunner(sys.executable, [tmp_path], timeout=1.0, start_timeout=10.0)
    try:
        command = entry(tmp_path, "heavy", "slow")
        assert runner.check(command, {"x": 0}).error == "x must be positive"
        first = runner.check(command, {"x": 2}).error
        assert runner.check(command, {"x": 1}).error is None
        assert first.startswith("imported 1 in ")  # imported once, by the first check
        assert runner.check(command, {"x": 2}).error == first  # same process, not again
    finally:
        runner.close()


def test_GIVEN_module_whose_import_hangs_WHEN_checked_THEN_clear_error(tmp_path):
    (tmp_path / "stuck.py").write_text(
        "import time\ntime.sleep(1000)\n\ndef never(x=1):\n    pass\n"
    )
    # the allowance covers the checker's start too: long enough for a loaded machine
    runner = CompanionRunner(sys.executable, [tmp_path], timeout=1.0, start_timeout=8.0)
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


# -- batches: check_many ------------------------------------------------------------------


def outcome(result):
    """A comparable form of a CompanionResult or CompanionError."""
    if isinstance(result, CompanionError):
        return ("error", str(result))
    return (result.error, result.estimate, result.problem)


def test_GIVEN_mixed_batch_WHEN_checked_at_once_THEN_same_outcomes_as_one_by_one(runner, commands):
    set_ei, odd, broken = (
        entry(commands, "set_ei"),
        entry(commands, "odd"),
        entry(commands, "broken", "broken"),
    )
    items = [
        (set_ei, {"energy": 25.0, "wait": True}),
        (set_ei, {"energy": -1.0, "wait": True}),
        (odd, {"x": 1}),
        (odd, {"x": 1}, False, True),  # per-item choice of companions
        (broken, {"x": 1}),
        (set_ei, {"energy": 2.0, "wait": False}, True, False),
    ]
    batch = runner.check_many(items, revision=1)
    one_by_one = []
    for command, args, *flags in items:
        wants = dict(zip(("validate", "estimate"), flags))
        try:
            one_by_one.append(runner.check(command, args, revision=1, **wants))
        except CompanionError as exc:
            one_by_one.append(exc)
    assert [outcome(r) for r in batch] == [outcome(r) for r in one_by_one]
    assert outcome(batch[0]) == (None, 30.0, None)
    assert outcome(batch[3]) == (None, None, "estimate_odd returned -5; expected seconds >= 0")
    assert "No module named 'no_such_module_here'" in outcome(batch[4])[1]
    assert outcome(batch[5]) == (None, None, None)
    assert runner.restarts == 0


def test_GIVEN_batch_with_a_hanging_companion_WHEN_checked_THEN_it_alone_fails_and_worker_restarts(
    runner, commands
):
    set_ei = entry(commands, "set_ei")
    items = [
        (set_ei, {"energy": 1.0, "wait": True}),
        (entry(commands, "stall"), {"x": 1}),
        (set_ei, {"energy": -3.0}),
        (set_ei, {"energy": 4.0, "wait": False}),
    ]
    results = runner.check_many(items, revision=1)
    assert outcome(results[1]) == (
        "error",
        "the checks of stall did not finish within 1 s and were stopped; "
        "a check must return quickly (no waiting on hardware)",
    )
    assert [outcome(results[i]) for i in (0, 2, 3)] == [
        (None, 30.0, None),
        ("energy must be positive", None, None),
        (None, 1.0, None),
    ]
    assert runner.restarts == 1
    assert runner.check(set_ei, {"energy": 5.0}, revision=1).estimate == 30.0


def test_GIVEN_batch_with_a_companion_that_kills_the_worker_WHEN_checked_THEN_it_alone_fails(
    runner, commands
):
    set_ei = entry(commands, "set_ei")
    items = [(set_ei, {"energy": 1.0}), (entry(commands, "crash"), {}), (set_ei, {"energy": 0.0})]
    results = runner.check_many(items, revision=1)
    assert outcome(results[1])[1].startswith(
        "the command checker crashed while running the checks of crash (exited with code 3"
    )
    assert outcome(results[0]) == (None, 30.0, None)
    assert outcome(results[2]) == ("energy must be positive", None, None)
    assert runner.restarts == 1


def test_GIVEN_batch_with_unimportable_module_WHEN_checked_THEN_error_for_its_items_only(
    runner, commands
):
    broken = entry(commands, "broken", "broken")
    set_ei = entry(commands, "set_ei")
    results = runner.check_many(
        [(broken, {"x": 1}), (set_ei, {"energy": 3.0}), (broken, {"x": 2})], revision=1
    )
    for i in (0, 2):
        assert isinstance(results[i], CompanionError)
        assert "cannot import command module 'broken'" in str(results[i])
        assert "No module named 'no_such_module_here'" in str(results[i])
    assert outcome(results[1]) == (None, 30.0, None)
    assert runner.restarts == 0


def test_GIVEN_batch_that_crashes_the_worker_again_and_again_WHEN_checked_THEN_rest_not_checked(
    runner, commands
):
    crash = (entry(commands, "crash"), {"x": 1})
    items = [crash] * 5 + [(entry(commands, "set_ei"), {"energy": 3.0})]
    results = runner.check_many(items, revision=1)
    assert all("crashed while running the checks of crash" in str(r) for r in results[:3])
    for result in results[3:]:
        assert isinstance(result, CompanionError)
        assert str(result).startswith(
            "not checked: the command checker was stopped 3 times while checking this batch"
        )
    assert runner.restarts == 3
    assert runner.check(*items[-1], revision=1).estimate == 30.0


def test_GIVEN_batch_slower_than_its_limit_WHEN_checked_THEN_stopped_with_the_limit_named(
    commands,
):
    (commands / "slowish.py").write_text(
        "import time\n\ndef slowish(x=1):\n    pass\n\n"
        "def validate_slowish(x=1):\n    time.sleep(0.4)\n"
    )
    runner = CompanionRunner(sys.executable, [commands], timeout=1.0, item_allowance=0.05)
    try:
        items = [(entry(commands, "slowish", "slowish"), {"x": i}) for i in range(6)]
        results = runner.check_many(items)
        for result in results:
            assert isinstance(result, CompanionError)
            assert str(result).startswith(
                "not checked: the checks of this batch of 6 jobs took more than 1.3 s in all "
                "(1 s + 0.05 s per job) and were stopped; it was running the checks of slowish"
            )
        assert runner.restarts == 1
    finally:
        runner.close()


def test_GIVEN_batch_larger_than_a_chunk_WHEN_checked_THEN_every_chunk_answered_in_order(
    commands,
):
    runner = CompanionRunner(sys.executable, [commands], timeout=1.0, chunk_size=3)
    try:
        set_ei = entry(commands, "set_ei")
        items = [(set_ei, {"energy": float(i - 3), "wait": bool(i % 2)}) for i in range(10)]
        items[7] = (entry(commands, "stall"), {"x": 1})
        results = runner.check_many(items, revision=1)
        assert "the checks of stall did not finish within 1 s" in str(results[7])
        for i, result in enumerate(results):
            if i == 7:
                continue
            if i <= 3:
                assert outcome(result) == ("energy must be positive", None, None)
            else:
                assert outcome(result) == (None, 30.0 if i % 2 else 1.0, None)
    finally:
        runner.close()


def test_GIVEN_batch_whose_module_import_hangs_WHEN_checked_THEN_its_items_fail_others_answered(
    tmp_path,
):
    (tmp_path / "stuck.py").write_text(
        "import time\ntime.sleep(1000)\n\ndef never(x=1):\n    pass\n"
    )
    (tmp_path / "quick.py").write_text(
        "def ready(x=1):\n    pass\n\ndef estimate_ready(x=1):\n    return 2.0 * x\n"
    )
    # the allowance covers the checker's start too: long enough for a loaded machine
    runner = CompanionRunner(sys.executable, [tmp_path], timeout=1.0, start_timeout=8.0)
    try:
        never, ready = entry(tmp_path, "never", "stuck"), entry(tmp_path, "ready", "quick")
        results = runner.check_many(
            [(ready, {"x": 1}), (never, {"x": 1}), (ready, {"x": 2}), (never, {"x": 2})]
        )
        for i in (1, 3):
            assert str(results[i]).startswith("importing the module of never did not finish")
        assert [outcome(results[i]) for i in (0, 2)] == [(None, 2.0, None), (None, 4.0, None)]
    finally:
        runner.close()


def test_GIVEN_batch_and_single_checks_from_threads_WHEN_at_once_THEN_each_answer_is_its_own(
    runner, commands
):
    set_ei = entry(commands, "set_ei")
    batch_items = [(set_ei, {"energy": float(i % 5) - 1.0}) for i in range(300)]
    singles = {}
    batches = []

    def ask(i):
        singles[i] = runner.check(set_ei, {"energy": -1.0 if i % 2 else 5.0}, revision=1)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    threads.append(threading.Thread(target=lambda: batches.append(runner.check_many(batch_items))))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(singles) == 8 and len(batches) == 1
    for i, result in singles.items():
        assert result.error == ("energy must be positive" if i % 2 else None)
    for (_, args), result in zip(batch_items, batches[0]):
        assert (result.error is None) == (args["energy"] > 0)
