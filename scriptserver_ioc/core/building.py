"""Building jobs from specs: arguments bound, name chosen, the source a job runs.

A mixin of `ScriptServer` (with `QueueControl`); every method runs with the core's lock
held and reads only in-memory state. A spec is parsed once (`core.specs`) and bound here
into a `Job`; a `file` job's script is read in the write's slow part, off the lock
(`core.script_files`), and carried in the job; the validator and the dry run receive
that job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..contract import limits, tags
from .bounds import bounded_estimate
from .deferred import Later
from .jobs import Job
from .ports import FILE_TEXT
from .specs import (
    CONTENT_KEYS,
    SCRIPTS_REFUSED,
    JobSpec,
    Rejected,
    apply_options,
    call_source,
    parse_spec,
    split_args,
)


class JobBuilding:
    """Jobs from specs, their checks on the worker, and the source a job runs."""

    def commands_revision(self) -> int:
        """What a job's check rests on: the commands' revision (the basis of a `Later`).

        Not the catalogue's `revision`, which also counts COMMANDS:ERRORS changes (a slow
        module named, then timed): those change no check, and while the warm-up names
        slow modules one after another they would have a write decided again and again.
        """
        return self.catalogue.commands_revision

    def check_later(self, jobs: list[Job], then: Callable[[], None], where: Callable) -> Later:
        """Check prepared jobs on the worker; then keep their verdicts and call `then()`.

        The work reads the scripts of `file` jobs (`core.script_files`) and checks the
        jobs with their text; a file that cannot be read refuses the write.

        Args:
            jobs: jobs from `prepare_job`.
            then: finishes the write under the lock once every job passed.
            where: `where(index)` prefixes a job's error (e.g. "batch item 3: ").
        """
        records = [job.to_dict() for job in jobs]

        def work() -> tuple[list[Any], list[Any]]:
            scripts = self.scripts.read_for(jobs, where)
            for record, script in zip(records, scripts):
                if script is not None:
                    record[FILE_TEXT] = script.text
            return scripts, self.validator.check_many(records)

        def checked(outcome: tuple[list[Any], list[Any]]) -> None:
            scripts, verdicts = outcome
            for index, (job, script, verdict) in enumerate(zip(jobs, scripts, verdicts)):
                job.carry(script)
                try:
                    self.apply_verdict(job, verdict)
                except Rejected as exc:
                    raise Rejected(f"{where(index)}{exc}") from None
            then()

        quick = len(records) == 1 and self.validator.is_quick(records[0])
        return Later(work, checked, self.commands_revision, quick)

    def prepare_job(self, spec: JobSpec, job_id: int = 0) -> Job:
        """A job record from a spec: arguments bound, name chosen; not yet validated."""
        job = Job(id=job_id, name="", kind=spec.kind, blackbox=spec.blackbox, tags=spec.tags)
        job.request_id = spec.request_id
        if spec.kind == "command":
            try:
                job.args = dict(self.catalogue.bind(spec.command, spec.positional, spec.keywords))
            except ValueError as exc:
                raise Rejected(str(exc)) from None
            job.command = spec.command
        elif spec.kind == "script":
            if not self.allow_scripts:
                raise Rejected(SCRIPTS_REFUSED)
            job.script = spec.script
        else:
            job.file = spec.file  # read off the lock, in the write's slow part
        job.name = spec.name[: limits.MAX_NAME_CHARS] if spec.name else default_name(job)
        return job

    @staticmethod
    def apply_verdict(job: Job, verdict: Any) -> None:
        """Keep the validator's warnings and estimate on the job; its errors reject it."""
        if verdict.errors:
            first = verdict.errors[0]
            where = f"line {first.get('line')}: " if first.get("line") else ""
            more = f" (and {len(verdict.errors) - 1} more)" if len(verdict.errors) > 1 else ""
            raise Rejected(f"{where}{first.get('message')}{more}")
        job.warnings = list(verdict.warnings)
        job.estimate, dropped = bounded_estimate(verdict.estimate)
        if dropped:
            job.warnings.append(dropped)
        job.estimate_source = verdict.estimate_source if job.estimate is not None else "none"

    @staticmethod
    def job_source(job: Job) -> str:
        """The Python source a job runs (generated for command jobs, carried for files).

        Raises:
            Rejected: a `file` job whose script could not be read (or was not yet).
        """
        if job.kind == "command":
            return call_source(job.command or "", job.args or {})
        if job.kind == "script":
            return job.script or ""
        script = job.file_text
        if script is None:
            raise Rejected(f"the file {job.file!r} has not been read yet")
        if script.problem is not None:
            raise Rejected(script.problem)
        return script.text

    @staticmethod
    def job_filename(job: Job) -> str:
        """The file name a job's code runs under (a `file` job's path, else `<job N>`)."""
        if job.kind == "file":
            return job.file_text.path if job.file_text is not None else str(job.file)
        return f"<job {job.id}>"

    def _merged_spec(self, job: Job, fields: dict[str, Any]) -> JobSpec:
        """A spec of `job` with `fields` (keys of a job spec) applied on top."""
        unknown = set(fields) - {"name", "blackbox", "tags", "request_id", "args", *CONTENT_KEYS}
        if unknown:
            raise Rejected(
                f"unknown key {sorted(unknown)[0]!r}; give fields of a job spec (command, "
                "args, call, script, file, name, blackbox, tags, request_id)"
            )
        content = [key for key in CONTENT_KEYS if key in fields]
        if content:
            spec = parse_spec({k: v for k, v in fields.items() if k != "position"}, False)
            if "name" not in fields and job.name != default_name(job):
                spec.name = job.name
            for key in ("blackbox", "tags", "request_id"):
                if key not in fields:
                    setattr(spec, key, getattr(job, key))
            return spec
        spec = JobSpec(kind=job.kind, command=job.command, script=job.script, file=job.file)
        spec.keywords = dict(job.args or {})
        if "args" in fields:
            if job.kind != "command":
                raise Rejected(f"job {job.id} is a {job.kind} job; 'args' goes with commands")
            spec.positional, spec.keywords = split_args(fields["args"])
        spec.name = job.name if job.name != default_name(job) else None
        spec.blackbox, spec.tags, spec.request_id = job.blackbox, job.tags, job.request_id
        apply_options(spec, fields)
        return spec


def default_name(job: Job) -> str:
    """The name of a job whose spec gives none: the one rule for add, edit and re-run.

    A command job is named by its call, a file job by its file, a script job by the file it
    was read from (``tags.source_file``) or else by its first line of code. A job whose
    name differs from this was named by a user: edits and re-runs keep that name.
    """
    if job.kind == "command":
        name = call_source(job.command or "", job.args or {})
    elif job.kind == "file":
        name = job.file or ""
    else:
        source = (job.tags or {}).get(tags.SOURCE_FILE)
        if isinstance(source, str) and source.strip():
            name = source.strip()
        else:
            script = job.script or ""
            lines = (ln.strip() for ln in script.splitlines())
            first = next((ln for ln in lines if ln[:1] not in ("", "#")), "")
            name = f"script: {first}" if first else "script"
    return name[: limits.MAX_NAME_CHARS]
