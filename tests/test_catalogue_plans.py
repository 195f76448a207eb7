"""Plans in the catalogue: a generator function is a command of kind `plan` (docs/bluesky.md)."""

from scriptserver_ioc.catalogue.model import FUNCTION, PLAN
from scriptserver_ioc.catalogue.reader import read_command_file

SOURCE = '''
import bluesky.plans as bp


def scan_sample(start: float, stop: float, points: int = 10):
    """Scan the sample stage."""
    yield from bp.scan([], None, start, stop, points)


def wait_a_bit(seconds: float):
    """A plan whose only yield is a bare one."""
    if seconds:
        yield


def make_readings(n: int):
    """Not a plan: only a nested function and a lambda yield."""
    def inner():
        yield n
    values = (lambda: (yield))
    return list(inner()), values


class Helper:
    def plan(self):
        yield 1
'''


def test_GIVEN_generator_functions_WHEN_read_THEN_plans_and_functions_told_apart(tmp_path):
    path = tmp_path / "plans.py"
    path.write_text(SOURCE)
    result = read_command_file(path)
    assert result.errors == []
    kinds = {c.name: c.kind for c in result.commands}
    assert kinds == {"scan_sample": PLAN, "wait_a_bit": PLAN, "make_readings": FUNCTION}
    scan = next(c for c in result.commands if c.name == "scan_sample")
    assert [p.name for p in scan.params] == ["start", "stop", "points"]
    assert scan.to_json()["kind"] == "plan" and scan.job_entry()["kind"] == "plan"
