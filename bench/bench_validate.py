"""Benchmark of job validation and dry runs (python bench/bench_validate.py).

Prints medians and ratios against baselines measured in the same run:
- a 500-line script validated without a dry run, against ``ast.parse`` of the same text;
- a command job with and without a ``validate_`` companion, against binding alone;
- a batch of 1,000 command jobs with companions (a generated loop) through
  ``Validator.check_many`` (one round trip per 500 jobs), against ``check`` in a loop;
- a dry run of a script worth 8 hours of beam time, against ``python -c pass``;
- pre-flight throughput and the running job's pause latency while 100 jobs pre-flight
  (``bench_preflight.py``).
"""

import ast
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scriptserver_ioc.catalogue import Catalogue  # noqa: E402
from scriptserver_ioc.validate.companions import CompanionRunner  # noqa: E402
from scriptserver_ioc.validate.validator import Validator  # noqa: E402

COMMANDS = ROOT / "commands"


def median_seconds(action, repeat):
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        action(i)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def script_500_lines():
    lines = ["import time", "", "TEMPERATURES = [10, 20, 30]", ""]
    for i in range(40):
        lines += [
            f"def step_{i}(temperature, repeats=2):",
            f'    """Measure at one temperature ({i})."""',
            "    for k in range(repeats):",
            f"        set_temperature(temperature + k * {i % 7})",
            "        count(seconds=60, title=f'T={temperature}')",
            "        time.sleep(5)",
            "",
        ]
    i = 0
    while len(lines) < 500:
        lines.append(f"step_{i % 40}({(i % 250) + 2})")
        i += 1
    return "\n".join(lines) + "\n"


def show(label, seconds, baseline=None, unit="ms"):
    scale = 1e3 if unit == "ms" else 1e6
    ratio = f"  ({seconds / baseline:5.1f} x baseline)" if baseline else ""
    print(f"  {label:<52} {seconds * scale:9.3f} {unit}{ratio}")


def main():
    catalogue = Catalogue([COMMANDS])
    companions = CompanionRunner(sys.executable, [str(COMMANDS)])
    validator = Validator(catalogue, companions, prelude_source="import time\n")
    script = script_500_lines()

    print("500-line script, validated without a dry run (median of 50, cache defeated):")
    texts = [script + f"# {i}\n" for i in range(50)]
    base = median_seconds(lambda i: ast.parse(texts[i]), 50)
    show("ast.parse (baseline)", base)
    verdict = validator.check({"kind": "script", "script": script})
    assert verdict.ok, verdict.errors
    show(
        "Validator.check",
        median_seconds(lambda i: validator.check({"kind": "script", "script": texts[i]}), 50),
        base,
    )
    show(
        "Validator.check, same text again (cached)",
        median_seconds(lambda i: validator.check({"kind": "script", "script": script}), 50),
        base,
    )

    print("command job (median of 2000):")
    base = median_seconds(lambda i: catalogue.bind("set_ei", [25.0], {}), 2000)
    show("Catalogue.bind (baseline)", base, unit="us")
    with_companion = {"kind": "command", "command": "set_ei", "args": {"energy": 25.0}}
    assert validator.check(with_companion).estimate_source == "declared"
    show(
        "check, validate_ + estimate_ in the warm worker",
        median_seconds(lambda i: validator.check(with_companion), 2000),
        base,
        "us",
    )
    without = {"kind": "command", "command": "get_ei", "args": {}}
    assert validator.check(without).ok
    show(
        "check, command without companions",
        median_seconds(lambda i: validator.check(without), 2000),
        base,
        "us",
    )

    batch_of_commands(validator, companions)

    print("dry run of 8 hours of beam time (480 x set_temperature + count + sleep, median of 5):")
    eight_hours = (
        "import time\n"
        "for i in range(480):\n"
        "    set_temperature(10 + i % 20, wait=False)\n"
        "    count(seconds=50, title=f'point {i}')\n"
        "    time.sleep(9.7)\n"
    )
    base = median_seconds(lambda i: subprocess.run([sys.executable, "-c", "pass"], check=True), 5)
    show("python -c pass (baseline)", base)
    results = []
    show(
        "Validator.dry_run",
        median_seconds(
            lambda i: results.append(
                validator.dry_run({"kind": "script", "script": eight_hours}, time_limit=30)
            ),
            5,
        ),
        base,
    )
    last = results[-1]
    assert last["ok"], last["error"]
    print(f"  simulated duration {last['estimate'] / 3600:.3f} h, {len(last['steps'])} steps")
    companions.close()


def batch_of_commands(validator, companions):
    """1,000 set_ei jobs (a script generator's loop): check_many against check in a loop."""
    print("batch of 1,000 command jobs with validate_ + estimate_ (median of 9):")
    jobs = [
        {
            "kind": "command",
            "command": "set_ei",
            "args": {"energy": 5.0 + (i % 400) * 0.5, "wait": bool(i % 2)},
            "tags": {"group": "ei-scan", "index": i, "count": 1000},
        }
        for i in range(1000)
    ]
    one_by_one = [validator.check(job) for job in jobs]
    assert validator.check_many(jobs) == one_by_one
    assert all(v.ok and v.estimate_source == "declared" for v in one_by_one)
    base = median_seconds(lambda i: [validator.check(job) for job in jobs], 9)
    show("Validator.check in a loop (baseline)", base)
    batch = median_seconds(lambda i: validator.check_many(jobs), 9)
    show("Validator.check_many", batch, base)
    print(f"  {'  check_many is faster by':<52} {base / batch:9.1f} x")
    plain = [{"kind": "command", "command": "get_ei", "args": {}, "tags": j["tags"]} for j in jobs]
    show(
        "  floor: check_many of 1,000 jobs without companions",
        median_seconds(lambda i: validator.check_many(plain), 9),
        base,
    )
    command = validator.catalogue.get("set_ei")
    items = [(command, verdict.args) for verdict in one_by_one]
    base = median_seconds(lambda i: [companions.check(c, a) for c, a in items], 9)
    show("CompanionRunner.check in a loop (baseline)", base)
    batch = median_seconds(lambda i: companions.check_many(items), 9)
    show("CompanionRunner.check_many", batch, base)
    print(f"  {'  check_many is faster by':<52} {base / batch:9.1f} x")


if __name__ == "__main__":
    main()
    import bench_preflight

    bench_preflight.main()
