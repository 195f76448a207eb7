"""The Verdict on one job, and the checks that need nothing but the job.

``Validator`` (``validator.py``) fills a Verdict: its own checks (argument binding, scripts,
files), the tags and kind checks here, and what the command's companions said
(``apply_companions``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from scriptserver_ioc.validate import estimates, static
from scriptserver_ioc.validate.companions import CompanionError, CompanionResult
from scriptserver_ioc.validate.dryrun import HALTED


@dataclass
class Verdict:
    """What the validator says about one job.

    Attributes:
        errors: ``[{"line", "col", "message"}]``; any error rejects the job. Line and column
            are 1-based, None when the error is not about a place in the source.
        warnings: ``["line 3: name 'foo' is not defined anywhere", ...]``, kept on the job.
        estimate: expected duration in seconds, or None.
        estimate_source: ``history``, ``declared``, ``dry-run`` or ``none``.
        args: the bound (and coerced) arguments of a command job, else None.
        key: the job's key for learned durations (``estimates.job_key``).
    """

    errors: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    estimate: float | None = None
    estimate_source: str = estimates.NONE
    args: dict | None = None
    key: str | None = None

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors

    @property
    def source(self) -> str:
        """Alias of ``estimate_source`` (the name used in docs/design.md)."""
        return self.estimate_source

    def error(self, message: str, line: int | None = None, col: int | None = None) -> None:
        """Add an error."""
        self.errors.append(static.error(line, col, message))

    def to_result(self, request_id: str | None = None, dry_run: dict | None = None) -> dict:
        """The ``VALIDATE:RESULT`` object (pv-interface.md); a failed dry run adds its error.

        A dry run halted by an effect it does not carry out (a program, the network) says
        nothing against the job: a warning, not an error.
        """
        errors, warnings = list(self.errors), list(self.warnings)
        if dry_run is not None and not dry_run.get("ok") and isinstance(dry_run.get("error"), dict):
            failure = dry_run["error"]
            if failure.get("type") == HALTED:
                warnings.append(f"dry run: {failure.get('message')}")
            else:
                errors.append(
                    static.error(failure.get("line"), None, f"dry run: {failure.get('message')}")
                )
        return {
            "request_id": request_id,
            "ok": not errors,
            "errors": errors,
            "warnings": warnings,
            "estimate": self.estimate,
            "estimate_source": self.estimate_source,
            "dry_run": dry_run,
        }


class CompanionCall(NamedTuple):
    """A command job's companion call: the command, its bound arguments, which companions."""

    command: Any
    bound: dict
    validate: bool
    estimate: bool


def apply_companions(
    call: CompanionCall, outcome: CompanionResult | CompanionError, verdict: Verdict
) -> None:
    """Turn what the companions said (or why they could not say) into errors and warnings."""
    name = call.command.name
    if isinstance(outcome, CompanionError):
        if call.validate:
            verdict.error(f"{name}: cannot check the arguments: {outcome}")
        else:
            verdict.warnings.append(f"{name}: no estimate: {outcome}")
        return
    if outcome.error:
        verdict.error(f"{name}: {outcome.error}")
    elif outcome.problem:
        verdict.warnings.append(outcome.problem)
    verdict.estimate = outcome.estimate  # declared; the validator ranks it


def check_tags(tags: Any, verdict: Verdict) -> None:
    """Add an error for each malformed part of a job's ``tags`` (absent or ``{}`` is fine)."""
    if tags is None or tags == {}:
        return
    if not isinstance(tags, dict):
        verdict.error(
            'tags must be an object, e.g. {"group": "scan", "index": 1, "count": 5}; '
            f"got {tags!r:.60}"
        )
        return
    group = tags.get("group")
    if group is not None and not isinstance(group, str):
        verdict.error(f"tags.group must be text, got {group!r:.60}")
    for key in ("index", "count"):
        value = tags.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            verdict.error(f"tags.{key} must be a whole number >= 0, got {value!r:.60}")
