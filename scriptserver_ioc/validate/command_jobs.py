"""Command calls checked against the catalogue: command jobs and literal calls in scripts.

``bind_command_job`` binds a command job's arguments and says which companions
(``validate_<name>``, ``estimate_<name>``, a script definition's ``parameters_valid`` and
``estimate_time``) must still run. ``script_call_checks`` does the same for each literal call
of a catalogue command found in a script, so ``set_ei(energy=2000)`` inside a script meets the
same ``validate_set_ei`` as the command job ``set_ei(2000)`` (at the call's line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from scriptserver_ioc.catalogue.model import SCRIPT_DEFINITION
from scriptserver_ioc.core.specs import split_args
from scriptserver_ioc.validate import calls, static
from scriptserver_ioc.validate.companions import CompanionError, CompanionResult
from scriptserver_ioc.validate.verdict import CompanionCall, Verdict

#: At most this many distinct literal calls of one script are sent to the companions.
MAX_SCRIPT_CALLS = 500


class ScriptCall(NamedTuple):
    """A literal command call in a script whose companions must still run."""

    line: int
    col: int
    text: str
    call: CompanionCall


def companion_call(command: Any, bound: dict, companions: Any) -> CompanionCall | None:
    """The companion call of a bound command, or None if it has no companions to run."""
    if command is None or companions is None:
        return None
    definition = getattr(command, "kind", "function") == SCRIPT_DEFINITION
    want_validate = bool(getattr(command, "has_validate", False) or definition)
    want_estimate = bool(getattr(command, "has_estimate", False) or definition)
    if not (want_validate or want_estimate):
        return None
    return CompanionCall(command, bound, want_validate, want_estimate)


def bind_command_job(
    catalogue: Any, companions: Any, job: dict, verdict: Verdict
) -> tuple[str | None, CompanionCall | None]:
    """Bind a command job's arguments into ``verdict.args``.

    Returns:
        The command's name and the companion call still to make (None: nothing to run).
        Binding problems are errors on ``verdict``.
    """
    positional: list = []
    keywords: dict = {}
    if job.get("call") is not None:
        try:
            name, positional, keywords = calls.parse_call(str(job["call"]))
        except calls.CallSyntaxError as exc:
            verdict.error(str(exc), None, exc.col)
            return None, None
    else:
        name = job.get("command")
        try:
            positional, keywords = split_args(job.get("args"))
        except ValueError as exc:
            verdict.error(str(exc))
            return None, None
    if not isinstance(name, str) or not name:
        verdict.error("a command job needs the command's name ('command')")
        return None, None
    if catalogue is None:
        verdict.error("no command catalogue is loaded, so commands cannot be checked")
        return name, None
    try:
        bound = dict(catalogue.bind(name, list(positional), dict(keywords)))
    except ValueError as exc:  # BindError, including an unknown command
        verdict.error(str(exc))
        return name, None
    verdict.args = bound
    return name, companion_call(catalogue.get(name), bound, companions)


def bind_script_calls(
    catalogue: Any, found: list[calls.CommandCall]
) -> tuple[list[dict], list[tuple[calls.CommandCall, dict]]]:
    """Bind the literal command calls of a script.

    Returns:
        Errors of the calls that do not bind (at their line and column), and the calls that
        bound with their bound arguments.
    """
    errors, bound_calls = [], []
    for call in found:
        try:
            bound = dict(catalogue.bind(call.name, list(call.args), dict(call.kwargs)))
        except ValueError as exc:
            errors.append(static.error(call.line, call.col, str(exc)))
            continue
        bound_calls.append((call, bound))
    return errors, bound_calls


def script_call_checks(
    catalogue: Any, companions: Any, bound_calls: list[tuple[calls.CommandCall, dict]]
) -> list[ScriptCall]:
    """The companion checks of a script's bound literal calls (validation only).

    Only commands with a ``validate_`` or a script definition's ``parameters_valid`` are
    asked; estimates of calls inside a script come from its dry run.
    """
    if companions is None or catalogue is None:
        return []
    checks: list[ScriptCall] = []
    for call, bound in bound_calls:
        made = companion_call(catalogue.get(call.name), bound, companions)
        if made is None or not made.validate:
            continue
        text = call_text(call)
        checks.append(ScriptCall(call.line, call.col, text, made._replace(estimate=False)))
        if len(checks) >= MAX_SCRIPT_CALLS:
            break
    return checks


def call_text(call: calls.CommandCall) -> str:
    """``set_ei(2000, wait=False)``: the call as written (literal values), for messages."""
    parts = [repr(a) for a in call.args] + [f"{k}={v!r}" for k, v in call.kwargs.items()]
    text = f"{call.name}({', '.join(parts)})"
    return text if len(text) <= 120 else text[:117] + "..."


def apply_script_call(check: ScriptCall, outcome: Any, verdict: Verdict) -> None:
    """What a call's companions said, as an error (or warning) at the call's line.

    A refusal is an error naming the call: ``set_ei(energy=2000): energy 2000 meV is out of
    range ...``. When the checks could not run (the checker crashed, the module cannot be
    imported by the checker) the script is not refused for it: a warning says so, and the
    pre-flight dry run still checks the call.
    """
    if isinstance(outcome, CompanionError):
        verdict.warnings.append(
            f"line {check.line}: {check.text}: cannot check the arguments: {outcome}"
        )
    elif outcome.error:
        verdict.error(f"{check.text}: {outcome.error}", check.line, check.col)
    elif outcome.problem:
        verdict.warnings.append(f"line {check.line}: {outcome.problem}")


@dataclass
class PendingCheck:
    """A job between the Validator's checks before its companions and those after them."""

    verdict: Verdict
    job: dict
    kind: str
    key_job: dict | None = None
    source: str | None = None
    call: CompanionCall | None = None
    outcome: CompanionResult | CompanionError | None = None
    script_checks: list[ScriptCall] = field(default_factory=list)
    script_outcomes: list = field(default_factory=list)

    def requests(self) -> list[CompanionCall]:
        """The companion calls to make: the command job's, then the script's calls'."""
        own = [self.call] if self.call is not None else []
        return own + [check.call for check in self.script_checks]

    def take(self, outcomes: list) -> None:
        """The outcomes of `requests()`, in the same order."""
        if self.call is not None:
            self.outcome, outcomes = outcomes[0], outcomes[1:]
        self.script_outcomes = list(outcomes)
