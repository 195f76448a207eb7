"""The Validator: command jobs, scripts, files, names, estimates and their sources."""

import sys
from pathlib import Path

import pytest
from waiting import wait_until

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.validate.companions import CompanionRunner
from scriptserver_ioc.validate.estimates import MemoryDurationHistory
from scriptserver_ioc.validate.validator import Validator

COMMANDS = Path(__file__).parent / "validate_corpus" / "commands"


@pytest.fixture(scope="module")
def companions():
    runner = CompanionRunner(sys.executable, [str(COMMANDS)])
    yield runner
    runner.close()


@pytest.fixture
def history():
    return MemoryDurationHistory()


@pytest.fixture
def validator(companions, history, tmp_path):
    scripts = tmp_path / "scripts"
    (scripts / "scans").mkdir(parents=True)
    (scripts / "scans" / "overnight.py").write_text("count(minutes=1)\nprint(undefined_thing)\n")
    (tmp_path / "outside.py").write_text("count()\n")
    return Validator(
        Catalogue([COMMANDS]),
        companions,
        history,
        prelude_source="from genie_python import genie as g\nSAMPLE = 'Si'\n",
        scripts_dir=scripts,
    )


def test_GIVEN_valid_command_job_WHEN_checked_THEN_bound_args_and_declared_estimate(validator):
    verdict = validator.check(
        {"kind": "command", "command": "set_temperature", "args": {"temperature": 20}}
    )
    assert verdict.ok and verdict.warnings == []
    assert verdict.args == {"temperature": 20.0, "wait": True}
    assert (verdict.estimate, verdict.estimate_source, verdict.source) == (
        300.0,
        "declared",
        "declared",
    )


def test_GIVEN_positional_call_text_WHEN_checked_THEN_same_job_key_as_named_arguments(validator):
    by_call = validator.check({"call": "set_temperature(20, False)"})
    by_name = validator.check(
        {"command": "set_temperature", "args": {"wait": False, "temperature": 20.0}}
    )
    assert by_call.ok and by_call.args == by_name.args == {"temperature": 20.0, "wait": False}
    assert (
        by_call.key
        == by_name.key
        == validator.job_key(
            {"kind": "command", "command": "set_temperature", "args": by_name.args}
        )
    )


def test_GIVEN_measured_runs_WHEN_checked_THEN_history_median_beats_the_declared_estimate(
    validator, history
):
    job = {"kind": "command", "command": "count", "args": {"minutes": 1}}
    key = validator.check(job).key
    for seconds in (70, 65, 200):
        history.add(key, seconds)
    verdict = validator.check(job)
    assert (verdict.estimate, verdict.estimate_source) == (70.0, "history")


def test_GIVEN_broken_estimate_companion_WHEN_checked_THEN_warning_and_no_estimate(validator):
    verdict = validator.check({"kind": "command", "command": "lazy", "args": {}})
    assert verdict.ok
    assert verdict.warnings == ["estimate_lazy failed: soon"]
    assert (verdict.estimate, verdict.estimate_source) == (None, "none")


def test_GIVEN_command_without_companions_WHEN_checked_THEN_no_estimate(validator):
    verdict = validator.check({"kind": "command", "command": "environment_name", "args": {}})
    assert verdict.ok and verdict.estimate is None and verdict.estimate_source == "none"


def test_GIVEN_script_definition_job_WHEN_checked_THEN_its_own_checks_and_estimate(validator):
    verdict = validator.check(
        {
            "kind": "command",
            "command": "temperature_scan",
            "args": {"start": 10, "stop": 40, "step": 10},
        }
    )
    assert verdict.ok and verdict.args == {"start": "10", "stop": "40", "step": "10"}
    assert (verdict.estimate, verdict.estimate_source) == (240.0, "declared")


def test_GIVEN_script_WHEN_checked_THEN_prelude_and_catalogue_names_are_known(validator):
    verdict = validator.check(
        {
            "kind": "script",
            "script": (
                "g.cset('t', 1)\nprint(SAMPLE)\ncount()\nimport scriptserver\nprint(typo_name)\n"
            ),
        }
    )
    assert verdict.ok
    assert verdict.warnings == ["line 5: name 'typo_name' is not defined anywhere"]


def test_GIVEN_script_WHEN_dry_run_first_THEN_later_checks_use_the_dry_run_estimate(validator):
    job = {"kind": "script", "script": "import time\ncount(minutes=2)\ntime.sleep(60)\n"}
    assert validator.check(job).estimate_source == "none"
    result = validator.dry_run(job, time_limit=60)
    assert result["ok"]
    verdict = validator.check(job)
    assert verdict.estimate_source == "dry-run"
    assert verdict.estimate == pytest.approx(180, abs=1)
    steps, total = validator.timeline(job)
    assert total == verdict.estimate
    assert sorted({s["line"] for s in steps}) == [2, 3]
    assert validator.timeline({"kind": "script", "script": "count()\n"}) is None


def test_GIVEN_no_scripts_server_WHEN_script_checked_THEN_rejected_but_commands_accepted(
    companions,
):
    validator = Validator(Catalogue([COMMANDS]), companions, allow_scripts=False)
    verdict = validator.check({"kind": "script", "script": "count()\n"})
    assert "--no-scripts" in verdict.errors[0]["message"]
    assert validator.check({"command": "count", "args": {}}).ok


def test_GIVEN_file_job_WHEN_checked_THEN_file_text_validated(validator):
    verdict = validator.check({"kind": "file", "file": "scans/overnight.py"})
    assert verdict.ok
    assert verdict.warnings == ["line 2: name 'undefined_thing' is not defined anywhere"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../outside.py", "is outside the scripts directory"),
        ("scans/../../outside.py", "is outside the scripts directory"),
        ("/etc/passwd", "is an absolute path"),
        ("scans/missing.py", "does not exist in the scripts directory"),
        ("", "must be a path relative to the scripts directory"),
    ],
)
def test_GIVEN_bad_file_path_WHEN_checked_THEN_rejected(validator, name, message):
    verdict = validator.check({"kind": "file", "file": name})
    assert message in verdict.errors[0]["message"]


def test_GIVEN_new_command_WHEN_catalogue_reloads_THEN_scripts_may_call_it(companions, tmp_path):
    (tmp_path / "first.py").write_text("def alpha(x: int = 1):\n    pass\n")
    catalogue = Catalogue([tmp_path])
    validator = Validator(catalogue, None)
    job = {"kind": "script", "script": "alpha()\nbeta(2)\n"}
    assert validator.check(job).warnings == ["line 2: name 'beta' is not defined anywhere"]
    (tmp_path / "second.py").write_text("def beta(y: int):\n    pass\n")
    wait_until(catalogue.reload)  # (a reload may see the file before it is complete)
    assert validator.check(job).warnings == []
    rejected = validator.check({"kind": "script", "script": "beta('x')\n"})
    assert rejected.errors[0]["line"] == 1 and "beta" in rejected.errors[0]["message"]


def test_GIVEN_prelude_star_import_WHEN_checked_THEN_names_resolved_in_the_job_interpreter(
    companions,
):
    validator = Validator(Catalogue([COMMANDS]), companions, prelude_source="from json import *\n")
    verdict = validator.check({"kind": "script", "script": "dumps({})\nnot_in_json()\n"})
    assert verdict.warnings == ["line 2: name 'not_in_json' is not defined anywhere"]


def test_GIVEN_prelude_that_does_not_compile_WHEN_checked_THEN_name_warnings_are_off(companions):
    validator = Validator(Catalogue([COMMANDS]), companions, prelude_source="def broken(:\n")
    assert validator.prelude_problem.startswith("the prelude does not compile (line 1")
    assert validator.check({"kind": "script", "script": "anything()\n"}).warnings == []


def test_GIVEN_verdict_WHEN_turned_into_validate_result_THEN_pv_interface_shape(validator):
    verdict = validator.check({"kind": "script", "script": "count(minutes='x')\n"})
    result = verdict.to_result("gui-7")
    assert set(result) >= {"request_id", "ok", "errors", "warnings", "estimate", "dry_run"}
    assert result["request_id"] == "gui-7" and result["ok"] is False
    assert result["errors"][0]["line"] == 1 and result["dry_run"] is None


def test_GIVEN_same_script_WHEN_checked_twice_THEN_parsed_once_until_catalogue_changes(
    tmp_path, monkeypatch
):
    from scriptserver_ioc.validate import static

    (tmp_path / "first.py").write_text("def count(minutes: float = 1):\n    pass\n")
    catalogue = Catalogue([tmp_path])
    validator = Validator(catalogue, None)
    parsed = []
    real_analyse = static.analyse
    monkeypatch.setattr(static, "analyse", lambda *a: parsed.append(1) or real_analyse(*a))
    job = {"kind": "script", "script": "".join(f"count(minutes={i})\n" for i in range(500))}
    first, second = validator.check(job), validator.check(job)
    assert first.ok and second.ok and first.warnings == second.warnings == []
    assert len(parsed) == 1
    (tmp_path / "second.py").write_text("def other():\n    pass\n")
    wait_until(catalogue.reload)  # (a reload may see the file before it is complete)
    validator.check(job)
    assert len(parsed) == 2


# -- batches: check_many ------------------------------------------------------------------


class CountingRunner(CompanionRunner):
    """A real CompanionRunner that counts how it is called."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = {"check": 0, "check_many": 0}

    def check(self, *args, **kwargs):
        self.calls["check"] += 1
        return super().check(*args, **kwargs)

    def check_many(self, *args, **kwargs):
        self.calls["check_many"] += 1
        return super().check_many(*args, **kwargs)


MIXED_BATCH = [
    {"kind": "command", "command": "set_temperature", "args": {"temperature": 20}},
    {"kind": "command", "command": "set_temperature", "args": {"temperature": 900}},
    {"call": "set_temperature(20, False)", "tags": {"group": "scan", "index": 2, "count": 9}},
    {"command": "count", "args": [2]},
    {"command": "count", "args": {"minutes": 0}},
    {"command": "fragile", "args": {"x": 0}},  # validate_ raises
    {"command": "lazy", "args": {}},  # broken estimate: a warning
    {"command": "environment_name", "args": {}},  # no companions
    {"command": "needs_missing", "args": {}},  # its module cannot be imported
    {"command": "temperature_scan", "args": {"start": 10, "stop": 40, "step": 10}},
    {"command": "temperature_scan", "args": {"start": 40, "stop": 10, "step": 10}},
    {"command": "set_temprature", "args": {"temperature": 20}},  # unknown command
    {"command": "set_temperature", "args": {"temperature": 20}, "tags": {"index": -1}},
    {"kind": "script", "script": "count(minutes=1)\nprint(typo_name)\n"},
    {"kind": "script", "script": "count(minutes='x')\n"},
    {"kind": "file", "file": "scans/overnight.py"},
    {"kind": "file", "file": "../outside.py"},
    {"kind": "recipe"},
    {"command": "set_temperature", "args": "20"},
]


def test_GIVEN_mixed_batch_WHEN_checked_at_once_THEN_same_verdicts_as_one_by_one(
    validator, history
):
    pytest.importorskip("genie_python")
    history.add(validator.check(MIXED_BATCH[3]).key, 130.0)
    runner = CountingRunner(sys.executable, [str(COMMANDS)])
    validator.companions = validator.scripts.companions = runner
    try:
        batch = validator.check_many(MIXED_BATCH)
        assert runner.calls == {"check": 0, "check_many": 1}
        one_by_one = [validator.check(job) for job in MIXED_BATCH]
    finally:
        runner.close()
    assert batch == one_by_one
    assert [verdict.ok for verdict in batch] == [
        True, False, True, True, False, False, True, True, False, True,
        False, False, False, True, False, True, False, False, False,
    ]  # fmt: skip
    assert (batch[0].estimate, batch[0].source) == (300.0, "declared")
    assert (batch[3].estimate, batch[3].source) == (130.0, "history")
    assert (batch[9].estimate, batch[9].args) == (
        240.0,
        {"start": "10", "stop": "40", "step": "10"},
    )
    assert batch[1].errors[0]["message"] == (
        "set_temperature: temperature 900 K is out of range 1.5 to 300 K"
    )
    assert batch[5].errors[0]["message"].startswith("fragile: validate_fragile raised Zero")
    assert batch[6].warnings == ["estimate_lazy failed: soon"]
    assert "cannot check the arguments: cannot import" in batch[8].errors[0]["message"]
    assert batch[13].warnings == ["line 2: name 'typo_name' is not defined anywhere"]


def test_GIVEN_batch_with_a_hanging_validate_WHEN_checked_THEN_that_job_rejected_others_kept(
    tmp_path,
):
    (tmp_path / "beamline.py").write_text(
        "import time\n\n"
        "def set_ei(energy: float):\n    pass\n\n"
        "def validate_set_ei(energy):\n"
        "    if energy == 13:\n        time.sleep(1000)\n"
        "    return None if energy > 0 else 'energy must be positive'\n\n"
        "def estimate_set_ei(energy):\n    return energy\n"
    )
    runner = CompanionRunner(sys.executable, [tmp_path], timeout=1.0)
    validator = Validator(Catalogue([tmp_path]), runner)
    try:
        energies = [5, 13, -1, 7]
        verdicts = validator.check_many(
            [{"command": "set_ei", "args": {"energy": e}} for e in energies]
        )
        assert verdicts[1].errors[0]["message"] == (
            "set_ei: cannot check the arguments: the checks of set_ei did not finish within "
            "1 s and were stopped; a check must return quickly (no waiting on hardware)"
        )
        assert [v.estimate for v in verdicts] == [5.0, None, None, 7.0]
        assert verdicts[2].errors[0]["message"] == "set_ei: energy must be positive"
        assert verdicts[0].ok and verdicts[3].ok
        assert runner.restarts == 1
    finally:
        runner.close()


def test_GIVEN_no_companion_runner_WHEN_batch_checked_THEN_binding_only(tmp_path):
    (tmp_path / "plain.py").write_text(
        "def move(x: float):\n    pass\n\ndef validate_move(x):\n    return 'never asked'\n"
    )
    validator = Validator(Catalogue([tmp_path]), None)
    jobs = [{"command": "move", "args": {"x": 1}}, {"command": "move", "args": {}}]
    verdicts = validator.check_many(jobs)
    assert verdicts == [validator.check(job) for job in jobs]
    assert verdicts[0].ok and verdicts[0].args == {"x": 1.0}
    assert not verdicts[1].ok
    assert validator.check_many([]) == []


GENIE_TYPO = [
    # (script, line, message fragment)
    ("g.begin()\ng.waitfor_uamp(40)\ng.end()\n", 2, "'g.waitfor_uamp': genie_python's genie"),
    (
        "from genie_python import genie as gen\ngen.waitfor_tme(seconds=5)\n",
        2,
        "has no 'waitfor_tme' (did you mean 'gen.waitfor_time'?)",
    ),
    (
        "import genie_python.genie as genie\nx = 1\ngenie.cset_blok('T', 1)\n",
        3,
        "'genie.cset_blok'",
    ),
]


@pytest.mark.parametrize("script, line, fragment", GENIE_TYPO)
def test_GIVEN_typo_of_a_genie_function_WHEN_checked_THEN_refused_with_line_and_suggestion(
    validator, script, line, fragment
):
    pytest.importorskip("genie_python")

    verdict = validator.check({"script": script})

    assert not verdict.ok
    (error,) = verdict.errors
    assert error["line"] == line and fragment in error["message"]
    assert "AttributeError" in error["message"]


def test_GIVEN_real_genie_names_or_rebound_alias_WHEN_checked_THEN_not_flagged(validator):
    pytest.importorskip("genie_python")
    scripts = [
        "g.begin()\ng.waitfor_uamps(40)\ng.sim.in_sim_mode()\ng._genie_api\ng.end()\n",
        "g = {'x': 1}\ng.waitfor_uamp\n",  # no longer genie
    ]
    for script in scripts:
        verdict = validator.check({"script": script})
        assert verdict.ok, (script, verdict.errors)
