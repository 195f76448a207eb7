"""What finished jobs teach the estimates: job overhead and beam rates (validate/learning)."""

import sys
from pathlib import Path

import pytest

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.validate import learning
from scriptserver_ioc.validate.companions import CompanionRunner
from scriptserver_ioc.validate.estimates import MemoryDurationHistory
from scriptserver_ioc.validate.preflight import with_overhead
from scriptserver_ioc.validate.validator import Validator

COMMANDS = Path(__file__).parent / "validate_corpus" / "commands"


def preflighted(simulated, waited=None, verdict="ok"):
    beam = {"waited": dict({"uamps": 0.0, "frames": 0.0, "mevents": 0.0, "seconds": 0.0})}
    beam["waited"].update(waited or {})
    return {
        "kind": "script",
        "script": "pass\n",
        "preflight": {"verdict": verdict, "simulated": simulated, "beam": beam},
    }


def test_GIVEN_job_without_beam_waits_WHEN_done_THEN_its_overhead_is_observed():
    found = learning.observations(preflighted(5.0), elapsed=5.4, overhead=0.0)
    assert found == [(learning.OVERHEAD, pytest.approx(0.4))]
    assert learning.observations(preflighted(5.0), elapsed=4.0, overhead=0.0) == [
        (learning.OVERHEAD, 0.0)
    ]
    assert learning.observations(preflighted(5.0, verdict="fails"), 5.4, 0.0) == []
    assert learning.observations({"kind": "script"}, 5.4, 0.0) == []
    assert learning.observations(preflighted(1.0), 1.0 + learning.MAX_OVERHEAD + 1, 0.0) == []


def test_GIVEN_job_waiting_on_one_kind_of_beam_WHEN_done_THEN_the_rate_it_got_is_observed():
    # 10 uA.h modelled at 40 uA = 900 s of beam, plus 2 s of other work; it really took
    # 2 s + 0.5 s overhead + 450 s: the beam gave 80 uA.
    job = preflighted(902.0, {"uamps": 10.0, "seconds": 900.0})
    assert learning.observations(job, elapsed=452.5, overhead=0.5) == [
        ("learned: beam uA", pytest.approx(80.0))
    ]
    job = preflighted(3600.0, {"mevents": 100.0, "seconds": 3600.0})
    assert learning.observations(job, elapsed=1800.0, overhead=0.0) == [
        ("learned: beam Mevents per hour", pytest.approx(200.0))
    ]
    mixed = preflighted(100.0, {"uamps": 1.0, "frames": 50.0, "seconds": 100.0})
    assert learning.observations(mixed, elapsed=100.0, overhead=0.0) == []


def test_GIVEN_observations_WHEN_read_back_THEN_medians_with_their_source():
    history = MemoryDurationHistory()
    assert learning.learned_beam(history) == {} and learning.learned_overhead(history) == 0.0
    for value in (0.3, 0.5, 4.0):
        history.add(learning.OVERHEAD, value)
    for rate in (90.0, 110.0):
        history.add("learned: beam Mevents per hour", rate)
    assert learning.learned_overhead(history) == 0.5
    assert learning.learned_beam(history) == {
        "event_rate": 100.0,
        "event_rate_source": "learned from 2 runs",
    }


def test_GIVEN_preflight_record_WHEN_overhead_added_THEN_simulated_time_kept():
    record = with_overhead({"estimate": 10.0}, 0.25)
    assert (record["simulated"], record["overhead"], record["estimate"]) == (10.0, 0.25, 10.25)
    again = with_overhead(dict(record), 0.5)  # from the cache, with a newer overhead
    assert (again["simulated"], again["estimate"]) == (10.0, 10.5)
    assert with_overhead({"estimate": None}, 0.5)["estimate"] is None


@pytest.fixture(scope="module")
def companions():
    runner = CompanionRunner(sys.executable, [str(COMMANDS)])
    yield runner
    runner.close()


def test_GIVEN_learned_overhead_WHEN_job_checked_THEN_added_to_declared_not_to_measured(
    companions,
):
    history = MemoryDurationHistory()
    validator = Validator(Catalogue([COMMANDS]), companions, history)
    job = {"kind": "command", "command": "set_temperature", "args": {"temperature": 20}}
    assert validator.check(job).estimate == 300.0
    history.add(learning.OVERHEAD, 0.75)
    verdict = validator.check(job)
    assert (verdict.estimate, verdict.estimate_source) == (300.75, "declared")
    history.add(verdict.key, 310.0)
    assert validator.check(job).estimate == 310.0  # measured: includes the overhead


def test_GIVEN_learned_event_rate_WHEN_dry_run_waits_for_mevents_THEN_estimate_uses_it(
    companions,
):
    pytest.importorskip("genie_python")
    history = MemoryDurationHistory()
    validator = Validator(
        Catalogue([COMMANDS]), companions, history, beam={"event_rate": 100.0, "current": 40.0}
    )
    job = {
        "kind": "script",
        "script": "from genie_python import genie as g\ng.begin()\ng.waitfor_mevents(50)\n"
        "g.end()\n",
    }
    before = validator.dry_run(job)
    assert before["ok"], before["error"]
    assert before["estimate"] == pytest.approx(1800.0, rel=0.01)  # 50 Mevents at 100 per hour
    assert before["beam"]["event_rate"] == {"value": 100.0, "source": "option"}
    # it really took half as long: the beam gave twice the events (the core stores these)
    for key, value in validator.learned_durations(
        dict(job, preflight={"verdict": "ok", **before}), before["estimate"] / 2
    ):
        history.add(key, value)
    after = validator.dry_run(job)
    assert after["beam"]["event_rate"] == {
        "value": pytest.approx(200.0, rel=0.01),
        "source": "learned from 1 run",
    }
    assert after["estimate"] == pytest.approx(900.0, rel=0.01)
    assert after["beam"]["current"] == {"value": 40.0, "source": "option"}
