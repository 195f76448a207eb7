"""The Validator: everything checked when a job is added or edited, and its estimate.

``check`` runs on the core's worker thread, off the Channel Access thread: static checks
(no user code runs), argument binding of command jobs against the catalogue, and the command's own
companions (``validate_<name>``, ``estimate_<name>``, DoRun checks) in the warm checker
process; ``check_many`` does the same for a batch with one companion round trip.
``dry_run`` is slow (a process per run) and belongs on a worker thread.

``Verdict`` (defined in ``verdict.py`` with the checks that need only the job) is imported
from here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scriptserver_ioc.core.ports import FILE_TEXT
from scriptserver_ioc.core.specs import SCRIPTS_REFUSED
from scriptserver_ioc.validate import command_jobs, estimates, learning
from scriptserver_ioc.validate.companions import (
    CompanionError,
    CompanionRunner,
)
from scriptserver_ioc.validate.dry_memory import DryRunMemory
from scriptserver_ioc.validate.dryrun import (
    DEFAULT_TIME_LIMIT,
    command_source,
    dry_failure,
    run_dry,
)
from scriptserver_ioc.validate.estimates import infer_kind
from scriptserver_ioc.validate.scripts import FileDigests, ScriptChecks, read_script_file
from scriptserver_ioc.validate.verdict import (
    Verdict,
    apply_companions,
    check_tags,
)

logger = logging.getLogger(__name__)


class Validator:
    """Checks jobs against the catalogue and estimates their duration. Thread-safe.

    Threading: only the memory of dry runs (`DryRunMemory`) has a lock; checks run without
    one (the companion runner serialises its own requests), so `timeline()`, called by the
    core under its lock when a job starts, never waits for a check.

    Args:
        catalogue: the command catalogue (``get``, ``names``, ``bind``, ``code_revision``,
            ``job_commands``).
        companions: runner of command companions; None skips them (no validate_/estimate_).
        history: learned durations (``durations(key)``), or None.
        prelude_source: the prelude's text; names it defines are known to scripts.
        allow_scripts: False rejects ``script`` jobs (``--no-scripts``).
        scripts_dir: where ``file`` jobs come from; None rejects them.
        job_python: interpreter of dry runs (default: the companions' or this one).
        command_dirs: command directories for dry runs (default: the companions').
        extra_names: more names the job namespace defines.
        dry_run_time_limit: default real-time limit of a dry run, seconds.
        beam: beam model of dry runs (``job/sim_genie.BeamModel`` options), None: ISIS
            defaults.
    """

    def __init__(
        self,
        catalogue: Any,
        companions: CompanionRunner | None = None,
        history: estimates.DurationHistory | None = None,
        prelude_source: str | None = None,
        allow_scripts: bool = True,
        scripts_dir: Path | str | None = None,
        *,
        job_python: str | None = None,
        command_dirs: list[str] | list[Path] | None = None,
        extra_names: frozenset[str] | set[str] = frozenset(),
        dry_run_time_limit: float = DEFAULT_TIME_LIMIT,
        beam: dict | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.companions = companions
        self.history = history
        self.prelude_source = prelude_source
        self.allow_scripts = allow_scripts
        self.scripts_dir = Path(scripts_dir).resolve() if scripts_dir is not None else None
        self.job_python = job_python or (companions.job_python if companions else None)
        self.command_dirs = command_dirs or (companions.command_dirs if companions else [])
        self.dry_run_time_limit = dry_run_time_limit
        self.beam = beam
        self._dry = DryRunMemory()
        self.scripts = ScriptChecks(catalogue, companions, prelude_source, extra_names)
        self._file_digests = FileDigests(self.scripts_dir)
        self.prelude_problem = self.scripts.prelude_problem

    # -- public interface ----------------------------------------------------------------

    def check(self, job: dict) -> Verdict:
        """Check a job record (or spec) being added or updated.

        Args:
            job: ``kind`` (``command``/``script``/``file``; inferred from the keys when
                absent), ``command`` + ``args`` (dict of keyword or list of positional
                arguments) or ``call`` (text), ``script``, ``file``, ``tags``.

        Returns:
            The Verdict: errors reject the job; warnings, estimate and bound args are kept.
        """
        pending = self._begin(job)
        requests = pending.requests()
        if len(requests) == 1 and pending.call is not None:
            call = pending.call
            try:
                outcome: Any = self.companions.check(  # type: ignore[union-attr]
                    call.command,
                    call.bound,
                    revision=self.catalogue.code_revision,
                    validate=call.validate,
                    estimate=call.estimate,
                )
            except CompanionError as exc:
                outcome = exc
            pending.take([outcome])
        elif requests:
            pending.take(
                self.companions.check_many(  # type: ignore[union-attr]
                    requests, revision=self.catalogue.code_revision
                )
            )
        return self._end(pending)

    def check_many(self, jobs: list[dict]) -> list[Verdict]:
        """Check a batch of jobs (``QUEUE:ADD`` of many): ``[check(job) for job in jobs]``.

        The companions of all command jobs and of the literal command calls in scripts run
        in one ``CompanionRunner.check_many`` call (one round trip per 500 calls instead of
        one per job). Verdicts are those ``check`` gives, except when companions hang or
        crash the checker more than ``CompanionRunner.max_batch_failures`` times: the jobs
        not checked by then are rejected with an error saying so.
        """
        batch = [self._begin(job) for job in jobs]
        requests = [pending.requests() for pending in batch]
        flat = [request for asked in requests for request in asked]
        if flat:
            outcomes = self.companions.check_many(  # type: ignore[union-attr]
                flat,  # (command, bound, validate, estimate)
                revision=self.catalogue.code_revision,
            )
            start = 0
            for pending, asked in zip(batch, requests):
                pending.take(outcomes[start : start + len(asked)])
                start += len(asked)
        return [self._end(pending) for pending in batch]

    def is_quick(self, job: dict) -> bool:
        """True if checking `job` runs no user code and reads no file.

        That is a command job whose command has no companions: ``check`` is then a bind
        and a lookup, fast enough for the Channel Access thread.
        """
        if (job.get("kind") or infer_kind(job)) != "command":
            return False
        pending = self._begin(job)
        return pending.call is None

    def _begin(self, job: dict) -> command_jobs.PendingCheck:
        """The checks before the companions; the companion calls still to make."""
        pending = command_jobs.PendingCheck(Verdict(), job, job.get("kind") or infer_kind(job))
        verdict = pending.verdict
        if pending.kind == "command":
            name, pending.call = command_jobs.bind_command_job(
                self.catalogue, self.companions, job, verdict
            )
            pending.key_job = {"kind": "command", "command": name, "args": verdict.args}
        elif pending.kind == "script":
            pending.source = self._script_text(job, verdict)
            pending.key_job = {"kind": "script", "script": pending.source}
        elif pending.kind == "file":
            pending.source = self._file_text(job, verdict)
            pending.key_job = {"kind": "file", "file": job.get("file")}
        else:
            verdict.error(
                f"unknown job kind {pending.kind!r}; expected 'command', 'script' or 'file'"
            )
        if pending.source is not None and not verdict.errors:
            errors, warnings, pending.script_checks = self.scripts.check(pending.source)
            verdict.errors.extend(errors)
            verdict.warnings.extend(warnings)
        return pending

    def _end(self, pending: command_jobs.PendingCheck) -> Verdict:
        """The companions' outcome, then the checks after them."""
        verdict = pending.verdict
        if pending.key_job is None:  # unknown kind
            return verdict
        if pending.call is not None and pending.outcome is not None:
            apply_companions(pending.call, pending.outcome, verdict)
        for check, outcome in zip(pending.script_checks, pending.script_outcomes):
            command_jobs.apply_script_call(check, outcome, verdict)
        check_tags(pending.job.get("tags"), verdict)
        if verdict.errors:
            verdict.estimate, verdict.estimate_source = None, estimates.NONE
            return verdict
        verdict.key = estimates.job_key(pending.key_job, pending.source)
        self._choose_estimate(verdict, pending.key_job)
        return verdict

    def file_digest(self, name: Any) -> str:
        """Digest of a ``file`` job's script as it is on disk now (``missing`` if unreadable).

        A ``stat`` while the file is unchanged: cheap enough to compare before a job's turn.
        """
        return self._file_digests.digest(name)

    def job_key(self, job: Any) -> str:
        """Key of a job record for learned durations (what the store records under)."""
        job = job.to_dict() if hasattr(job, "to_dict") else job
        if (job.get("kind") or infer_kind(job)) == "file":
            carried = job.get(FILE_TEXT)  # the core's jobs carry their script's text
            if isinstance(carried, str):
                return estimates.job_key(job, carried)
            try:
                return estimates.job_key(job, self._read_file(job.get("file"))[0])
            except ValueError:
                return estimates.job_key(job)
        return estimates.job_key(job)

    def dry_run(
        self,
        job: Any,
        source: str | None = None,
        filename: str | None = None,
        time_limit: float | None = None,
        env: dict[str, str] | None = None,
        low_priority: bool = False,
    ) -> dict:
        """Run a job in simulation (blocking: call from a worker thread).

        Args:
            job: the job record (dict or an object with ``to_dict``).
            source: the source to run (default: the script, the file's text or the command
                call generated from the bound arguments).
            filename: file name of the job's code (default ``<script>`` / the file's path).
            time_limit: real seconds allowed (default ``dry_run_time_limit``).
            env: environment of the dry-run process.
            low_priority: lowest CPU priority (background pre-flights).

        Returns:
            The ``dry_run`` object of VALIDATE:RESULT. A successful run's estimate is
            remembered for this job (estimate source ``dry-run`` when nothing better is known).
        """
        job = job.to_dict() if hasattr(job, "to_dict") else dict(job)
        kind = job.get("kind") or infer_kind(job)
        if source is None:
            if kind == "command":
                source = command_source(job.get("command") or "", job.get("args") or {})
            elif kind == "file":
                try:
                    source, path = self._read_file(job.get("file"))
                except ValueError as exc:
                    return dry_failure(str(exc))
                filename = filename or str(path)
            else:
                source = job.get("script") or ""
        result = run_dry(
            source,
            commands=self.catalogue.job_commands() if self.catalogue is not None else [],
            command_dirs=self.command_dirs,
            job_python=self.job_python,
            prelude=self.prelude_source,
            filename=filename or "<script>",
            time_limit=time_limit or self.dry_run_time_limit,
            env=env,
            beam=self.beam_options(),
            low_priority=low_priority,
        )
        if result.get("ok") and result.get("estimate") is not None:
            key_job = dict(job, kind=kind)
            self._dry.remember(
                estimates.job_key(key_job, source if kind == "file" else None), result
            )
        return result

    def beam_options(self) -> dict:
        """The beam model of the next dry run: what earlier runs taught, else the options.

        Rates learned from real runs (``learning.learned_beam``) come before ``--beam-current``
        and friends and the ISIS defaults; a configured live PV still comes first.
        """
        options = dict(self.beam or {})
        try:
            options.update(learning.learned_beam(self.history))
        except Exception as exc:  # a store failure (or one closed at shutdown) must not
            logger.warning("cannot read learned beam rates: %s", exc)  # stop a dry run
        return options

    def overhead(self) -> float:
        """Seconds a job takes beyond its simulated or declared duration (learned median)."""
        try:
            return learning.learned_overhead(self.history)
        except Exception as exc:  # a store failure (or one closed at shutdown) must not
            logger.warning("cannot read the learned job overhead: %s", exc)  # reject a job
            return 0.0

    def timeline(self, job: Any) -> tuple[list[dict], float] | None:
        """``(steps, total)`` of the last successful dry run of this job, or None.

        For progress from the job's position in its simulated timeline while it runs
        (``estimates.TimelineTracker(steps, total)``). The last 50 dry runs are kept.
        """
        key = job if isinstance(job, str) else self.job_key(job)
        return self._dry.timeline(key)

    # -- scripts and files ---------------------------------------------------------------

    def _script_text(self, job: dict, verdict: Verdict) -> str | None:
        if not self.allow_scripts:
            verdict.error(SCRIPTS_REFUSED)
            return None
        text = job.get("script")
        if not isinstance(text, str):
            verdict.error(f"'script' must be Python source text, got {type(text).__name__}")
            return None
        return text

    def _file_text(self, job: dict, verdict: Verdict) -> str | None:
        carried = job.get(FILE_TEXT)  # read by the core off its lock: not read again
        if isinstance(carried, str):
            return carried
        try:
            return self._read_file(job.get("file"))[0]
        except ValueError as exc:
            verdict.error(str(exc))
            return None

    def _read_file(self, name: Any) -> tuple[str, Path]:
        return read_script_file(self.scripts_dir, name)

    # -- estimates -----------------------------------------------------------------------

    def learning_keys(self, job: Any) -> list[tuple[str, float]]:
        """Where to record a finished job's duration: ``[(key, factor)]``, seconds x factor.

        Its own key (factor 1) and, for a command whose duration scales with an amount
        (``estimates.scaled_key``), the rate per unit of that amount.
        """
        job = job.to_dict() if hasattr(job, "to_dict") else job
        keys = [(self.job_key(job), 1.0)]
        scaled = estimates.scaled_key(job)
        if scaled is not None:
            keys.append((scaled[0], 1.0 / scaled[1]))
        return keys

    def learned_durations(self, job: Any, seconds: float) -> list[tuple[str, float]]:
        """What to record after a job ended DONE in `seconds`: ``[(key, value)]``.

        Its duration under ``learning_keys``, and what its pre-flight's dry run teaches:
        the overhead of a job beyond its simulated time, or the beam rate its waits got
        (``learning.observations``).
        """
        record = job.to_dict() if hasattr(job, "to_dict") else job
        found = [(key, seconds * factor) for key, factor in self.learning_keys(record)]
        return found + learning.observations(record, seconds, self.overhead())

    def _choose_estimate(self, verdict: Verdict, key_job: dict | None = None) -> None:
        declared = verdict.estimate
        history = None
        if self.history is not None and verdict.key is not None:
            try:
                history = self.history.durations(verdict.key)
                scaled = estimates.scaled_key(key_job) if key_job and not history else None
                if scaled is not None:  # learned from runs of other amounts: rate x amount
                    history = [rate * scaled[1] for rate in self.history.durations(scaled[0])]
            except Exception:  # a store failure must not reject a job
                logger.exception("cannot read learned durations")
        verdict.estimate, verdict.estimate_source = estimates.choose_estimate(
            history, declared, self._dry.estimate(verdict.key)
        )
        if verdict.estimate is not None and verdict.estimate_source != estimates.HISTORY:
            verdict.estimate += self.overhead()  # a measured duration includes it already
