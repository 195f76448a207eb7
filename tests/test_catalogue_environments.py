"""Jobs are not refused only because the catalogue's checker runs genie_python simulated.

Real processes: the catalogue's checker imports each module with `GENIE_SIMULATE=1`; the
companion worker (`Warmer`) imports it as a job does. A failure that may come from the
simulation queues the jobs; one a job would meet too refuses them until the job's
environment shows otherwise; a checker that could not look refuses nothing.
"""

from __future__ import annotations

import sys

from test_catalogue_warmup import wait_until

from scriptserver_ioc.catalogue import Catalogue
from scriptserver_ioc.catalogue.live import LiveChecker
from scriptserver_ioc.validate.companions import CompanionRunner
from scriptserver_ioc.validate.warmup import Warmer

COMMAND = '''

def change_sample(slot: str = "1CB"):
    """Move the sample changer to a slot."""
'''

# the module's own code raises: on the instrument the block exists
NEEDS_BLOCK = (
    "import os\n\n"
    'if os.environ.get("GENIE_SIMULATE") == "1":\n'
    "    raise ImportError(\"block 'SAMPLE_CHANGER' must exist (not simulated)\")\n" + COMMAND
)

# an import statement that fails only in simulation (the simulated branch needs a helper
# the instrument machine lacks): it looks like a missing module, a job imports it fine
SIMULATION_ONLY_IMPORT = (
    "import os\n\n"
    'if os.environ.get("GENIE_SIMULATE") == "1":\n'
    "    import scriptserver_sim_changer_helper_22  # noqa: F401\n" + COMMAND
)


def checked(tmp_path, source: str, **options) -> Catalogue:
    (tmp_path / "changer.py").write_text(source)
    live = LiveChecker(sys.executable, [tmp_path], **options)
    catalogue = Catalogue([tmp_path], live=live)
    catalogue.reload()
    return catalogue


def test_GIVEN_module_raising_import_error_in_simulation_WHEN_checked_THEN_jobs_accepted(
    tmp_path,
):
    catalogue = checked(tmp_path, NEEDS_BLOCK)

    (entry,) = catalogue.errors
    assert entry["environment"] == "simulated" and entry["line"] == 4
    assert "block 'SAMPLE_CHANGER' must exist" in entry["message"]
    assert "its jobs are accepted, because this may come from the simulation" in entry["message"]
    assert catalogue.get("change_sample").import_error is None
    assert catalogue.bind("change_sample", ["2CB"], {}) == {"slot": "2CB"}


def test_GIVEN_import_failing_only_in_simulation_WHEN_job_environment_imports_it_THEN_accepted(
    tmp_path,
):
    catalogue = checked(tmp_path, SIMULATION_ONLY_IMPORT)
    refusal = catalogue.get("change_sample").import_error
    assert refusal and "scriptserver_sim_changer_helper_22" in refusal  # a job may fail too
    companions = CompanionRunner(sys.executable, [tmp_path])
    warmer = Warmer(companions, catalogue)
    try:
        warmer.request()

        wait_until(lambda: catalogue.get("change_sample").import_error is None, timeout=30)
    finally:
        warmer.stop()
        companions.close()

    (entry,) = catalogue.errors
    assert entry["environment"] == "simulated"
    assert (
        "it imports in the job interpreter (as a job imports it), so its jobs are accepted"
        in (entry["message"])
    )
    assert catalogue.bind("change_sample", [], {}) == {"slot": "1CB"}


def test_GIVEN_checker_that_cannot_start_in_time_WHEN_checked_THEN_nothing_refused(tmp_path):
    catalogue = checked(tmp_path, COMMAND, timeout=0.001)

    (entry,) = catalogue.errors
    assert "the checker did not start within 0.001 s" in entry["message"]
    assert "its jobs are accepted" in entry["message"]
    assert catalogue.get("change_sample").import_error is None


def test_GIVEN_missing_module_in_both_environments_WHEN_warmed_THEN_still_refused(tmp_path):
    catalogue = checked(tmp_path, "import scriptserver_no_such_module_22\n" + COMMAND)
    companions = CompanionRunner(sys.executable, [tmp_path])
    warmer = Warmer(companions, catalogue)
    try:
        warmer.request()

        (entry,) = wait_until(lambda: job_confirmed(catalogue), timeout=30)
    finally:
        warmer.stop()
        companions.close()

    assert entry["message"].endswith("and in the job interpreter (as a job imports it))")
    refusal = catalogue.get("change_sample").import_error
    assert refusal.startswith("module 'changer' cannot be imported by the job interpreter")
    assert "No module named 'scriptserver_no_such_module_22'" in refusal


def job_confirmed(catalogue):
    return [e for e in catalogue.errors if "and in the job interpreter" in e["message"]]
