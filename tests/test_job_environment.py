"""The environment a job process sees: nothing the server adds may break user libraries.

Real job processes are started by a JobRunner (no Channel Access here; the system test
`system_tests/test_job_libraries_ca.py` reads and writes real PVs with pyepics).
"""

from __future__ import annotations

import json

from test_runner_support import launch, log_text

# The job prints what pyepics would use as its codec (epics/utils.py reads PYEPICS_ENCODING,
# else PYTHONIOENCODING, else utf-8) and checks it is a codec Python knows.
ENCODING_PROBE = """\
import codecs, json, os, sys
name = os.environ.get("PYEPICS_ENCODING", os.environ.get("PYTHONIOENCODING", "utf-8"))
codecs.lookup(name)
seen = {"env": os.environ.get("PYTHONIOENCODING")}
seen["stdout"] = codecs.lookup(sys.stdout.encoding).name
print(json.dumps(seen))
print("temp\\u00e9rature 5 K \\u2713 \\udcff")
"""


def test_GIVEN_job_WHEN_run_THEN_no_PYTHONIOENCODING_and_log_is_utf8(make_runner, monkeypatch):
    monkeypatch.delenv("PYTHONIOENCODING", raising=False)
    # A C locale without coercion gives Python an ASCII stdout: the launcher must still make
    # the log UTF-8 (and a lone surrogate must not kill the job).
    runner, events = make_runner(env={"LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"})
    entry = launch(runner.settings.data_dir, 1, ENCODING_PROBE)
    runner.start(entry)

    finished = events.wait(1, "finished")

    assert finished["state"] == "DONE", log_text(entry)
    text = log_text(entry)
    seen = json.loads(text.splitlines()[0])
    assert seen["env"] is None
    assert seen["stdout"] == "utf-8"
    assert "température 5 K ✓ \\udcff" in text


def test_GIVEN_server_sets_PYTHONIOENCODING_WHEN_job_runs_THEN_it_is_kept(make_runner):
    runner, events = make_runner(env={"PYTHONIOENCODING": "latin-1"})
    entry = launch(runner.settings.data_dir, 2, ENCODING_PROBE.replace(" \\u2713 \\udcff", ""))
    runner.start(entry)

    assert events.wait(2, "finished")["state"] == "DONE", log_text(entry)
    seen = json.loads(log_text(entry).splitlines()[0])
    assert seen["env"] == "latin-1"
    assert seen["stdout"] == "iso8859-1"
