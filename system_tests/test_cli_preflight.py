"""The console tool shows each job's pre-flight verdict and estimate (real IOC, real tool)."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT, settle_preflights, wait_until

GOOD = "import time\ntime.sleep(0.1)\nprint('good')\n"
# In the manner of InstrumentScripts' loops: a variable misspelt on the line that uses it.
BROKEN = "temperatures = [10, 20]\nfor t in temperaturs:\n    print(t)\n"
# Waits on beam: the dry run's estimate counts 2 uA.h at the simulated beam current.
BEAM = "from genie_python import genie as g\ng.begin()\ng.waitfor_uamps(2)\ng.end()\n"


def cli(ioc, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "scriptserver_ioc.client.cli", "--prefix", ioc.prefix, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def flat(text: str) -> str:
    """Table text with cell borders and wrapping removed, for substring checks."""
    return re.sub(r"[\s│┃|]+", " ", text)


def test_GIVEN_checked_queue_WHEN_listed_shown_and_run_THEN_verdicts_and_estimates_shown(
    client, ioc
):
    good, broken, beam = client.add([{"script": GOOD}, {"script": BROKEN}, {"script": BEAM}])
    settle_preflights(client)
    records = {job["id"]: job["preflight"] for job in client.queue()}
    assert records[beam]["verdict"] in ("ok", "warnings")
    beam_estimate = records[beam]["estimate"]
    assert beam_estimate >= 2 / 40 * 3600  # 2 uA.h at the ISIS default 40 uA: 180 s

    listed = cli(ioc, "queue")
    assert listed.returncode == 0
    text = flat(listed.stdout)
    assert "pre-flight" in text and "dry-run estimate" in text
    assert "fails at line 2: NameError: name 'temperaturs' is not defined" in text
    assert re.search(rf"\b{beam}\b.*\b(ok|warnings)\b.*\b3:0\d\b", text), listed.stdout

    shown = cli(ioc, "show", str(broken))
    assert shown.returncode == 0
    assert "pre-flight: fails at line 2: NameError: name 'temperaturs' is not defined" in (
        shown.stdout
    )
    shown = cli(ioc, "show", str(beam)).stdout
    assert re.search(r"pre-flight: (ok|warnings)", shown), shown
    assert re.search(r"estimate 3:0\d, beam 40 µA \(ISIS default\)", shown), shown

    as_json = cli(ioc, "show", str(broken), "--json")
    assert '"verdict": "fails"' in as_json.stdout

    client.put("QUEUE:HOLD", 0)  # the good job runs; the queue holds before the broken one
    wait_until(lambda: client.get_json("STATUS")["hold"] and client.get("CURRENT:ID") == 0, 60)
    history = cli(ioc, "history")
    assert history.returncode == 0
    row = next(line for line in history.stdout.splitlines() if re.search(rf"\b{good}\b", line))
    assert "DONE" in row and " ok " in flat(row)
    status = cli(ioc, "status").stdout
    assert f"held: queue held before job {broken}" in status
