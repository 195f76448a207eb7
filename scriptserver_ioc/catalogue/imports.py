"""What importing a command module did, in which environment, and what follows for its jobs.

A module is imported by two processes besides the jobs themselves:

- the catalogue's **checker** (`live.LiveChecker`), which runs genie_python in simulation
  (`GENIE_SIMULATE=1`) so that looking at the catalogue touches no hardware;
- the **companion worker** (`validate/companions.py`), which imports it as a job does, with
  the job interpreter and the job's environment, to have `validate_`/`estimate_` ready.

Each may find that the import fails or is slow. The verdicts become COMMANDS:ERRORS entries
that say which environment saw them (`"environment": "simulated"` or `"job"`), and a job is
refused only for a failure that does not depend on the environment: bad syntax, or an
`ImportError` raised by an import statement (a missing module, a missing name, a bad
relative import), and only while the job's environment has not imported the module fine.
Any other exception in the simulated checker (a block that must exist, a PV it reads, an
`ImportError` the module's own code raises) may not happen in a real job, so the job is
queued and the entry says so; so is a checker that could not look at the module (it did
not start, it crashed). If the companion worker then imports the module in the job's
environment, the entry says that too, and a refusal is withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SIMULATED = "simulated"
"""The catalogue's checker: job interpreter, genie_python in simulation."""
JOB = "job"
"""The companion worker: job interpreter and environment, as a job imports the module."""

_WHERE = {
    SIMULATED: "the catalogue's checker (genie_python simulated)",
    JOB: "the job interpreter (as a job imports it)",
}


@dataclass(frozen=True)
class JobImport:
    """What the companion worker saw importing one source.

    Attributes:
        done: the import finished (False: still importing after `seconds`).
        seconds: how long it took (or has taken so far).
        slow: it took longer than the slow-import bound.
        error: the failure message, or None.
    """

    done: bool
    seconds: float
    slow: bool
    error: str | None = None


def entry(path: Path, line: int | None, message: str, environment: str) -> dict:
    """A COMMANDS:ERRORS entry about an import, naming the environment that saw it."""
    return {"file": str(path), "line": line, "message": message, "environment": environment}


def import_verdicts(
    module: str, path: Path, live: dict | None, job: JobImport | None
) -> tuple[str | None, list[dict]]:
    """The refusal message for the module's jobs (or None) and its COMMANDS:ERRORS entries.

    Args:
        module: the module name a job imports.
        path: the source file.
        live: the checker's answer for the current content (None: not asked yet).
        job: the companion worker's import of the current content (None: not yet).
    """
    entries: list[dict] = []
    refusal = None
    error = (live or {}).get("error")
    if error:
        message = str(error.get("message"))
        where = _WHERE[SIMULATED]
        imports_in_job = job is not None and job.done and job.error is None
        if error.get("structural", True) and not imports_in_job:
            refusal = (
                f"module '{module}' cannot be imported by the job interpreter, so its commands "
                f"cannot run: {message}"
            )
            if job is not None and job.done and job.error:
                text = f"{refusal} (seen in {where} and in {_WHERE[JOB]})"
            else:
                text = f"{refusal} (seen in {where}; a job fails the same way)"
        elif imports_in_job:
            text = (
                f"module '{module}' fails to import in {where}: {message}; it imports in "
                f"{_WHERE[JOB]}, so its jobs are accepted (names it makes in code are not "
                "listed, and a dry run of its jobs may fail the same way)"
            )
        else:
            text = (
                f"module '{module}' fails to import in {where}: {message}; its jobs are "
                "accepted, because this may come from the simulation (a real job reads the "
                "real instrument)"
            )
        entries.append(entry(path, error.get("line"), text, SIMULATED))
    slow = (live or {}).get("slow")
    if slow:
        entries.append(entry(path, None, _slow_text(module, SIMULATED, slow), SIMULATED))
    if job is not None and job.slow:
        timing = {"seconds": job.seconds} if job.done else {"after": job.seconds}
        entries.append(entry(path, None, _slow_text(module, JOB, timing), JOB))
    if job is not None and job.done and job.error and not (error and refusal):
        text = (
            f"module '{module}' fails to import in {_WHERE[JOB]}: {job.error}; its jobs are "
            "accepted, in case the instrument was not ready (they fail at the import if it "
            "still fails)"
        )
        entries.append(entry(path, None, text, JOB))
    return refusal, entries


def _slow_text(module: str, environment: str, timing: dict) -> str:
    where = _WHERE[environment]
    if "seconds" in timing:
        took = f"importing module '{module}' took {timing['seconds']:.1f} s in {where}"
    else:
        took = (
            f"importing module '{module}' has not finished after {timing['after']:g} s in "
            f"{where}; the rest of the catalogue did not wait for it"
        )
    return (
        f"{took}: a job that uses its commands waits as long before its first line; keep "
        "module-level code quick (read PVs and wait inside the commands, not at import)"
    )
