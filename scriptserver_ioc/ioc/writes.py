"""Control writes decoded at the edge into calls of the core's typed API.

Each control PV's row in the PV table names a handler key; here each key has a decoder
that turns the written value (text for char PVs, an integer for enums and longs) into one
call of the core (`core.server.ScriptServer`: `add(specs)`, `remove(ids)`, `move(...)`,
`pause(immediate)`, ...). The core never sees a PV value: what it gets is typed, and the
rules of the written text (`core.specs`) are applied here, once. A value that cannot be
decoded is refused through the core (`refuse`), so its reply, `LAST_ERROR` and the put's
completion are those of any refused write. No pcaspy here: the NICOS bridge, the unit
tests and the driver use the same decoders.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..contract import limits, pvtable
from ..contract.enums import SLOT_ACTIONS
from ..contract.reply import Reply
from ..core.operation import Request
from ..core.server import ScriptServer
from ..core.specs import (
    Rejected,
    load_json,
    parse_id,
    parse_id_or_object,
    parse_ids,
    parse_index,
    parse_job_text,
    parse_request_id,
    request_id_of,
)

Call = Callable[[ScriptServer, Request], "Reply | None"]
"""One decoded write: the core call it makes, given the request it answers."""


def add(value: Any) -> tuple[Call, str | None]:
    """QUEUE:ADD: a call, a job spec or a batch."""
    specs = parse_job_text(value)
    return (lambda core, req: core.add(specs, req)), specs[0].request_id


def remove(value: Any) -> tuple[Call, str | None]:
    """QUEUE:REMOVE: an id, a JSON array of ids, or `all`."""
    ids = parse_ids(value)
    return (lambda core, req: core.remove(ids, req)), None


MOVE_HELP = (
    'expected {"id", "to": index|"top"|"bottom"}, {"id", "before": id}, {"id", "after": id}, '
    '{"id", "by": k} or {"order": [ids]}'
)


def move(value: Any) -> tuple[Call, str | None]:
    """QUEUE:MOVE: one job by `to`, `before`, `after` or `by`, or a full `order`."""
    obj = load_json(value, "the move")
    if not isinstance(obj, dict):
        raise Rejected(MOVE_HELP)
    request_id = parse_request_id(obj.pop("request_id", None))
    if "order" in obj:
        if set(obj) != {"order"}:
            raise Rejected("'order' takes no other key; " + MOVE_HELP)
        order = obj["order"]
        if not isinstance(order, list) or len(order) > limits.MAX_QUEUE_LENGTH:
            raise Rejected("'order' must be a JSON array of job ids")
        ids = [parse_id(v) for v in order]
        return (lambda core, req: core.reorder(ids, req)), request_id
    keys = set(obj) - {"id"}
    if "id" not in obj or len(keys) != 1 or not keys <= {"to", "before", "after", "by"}:
        raise Rejected(MOVE_HELP)
    job_id, how = parse_id(obj["id"]), keys.pop()
    return (lambda core, req: core.move(job_id, how, obj[how], req)), request_id


def update(value: Any) -> tuple[Call, str | None]:
    """QUEUE:UPDATE: `{"id", ...fields of a job spec}` (the running job: its script)."""
    job_id, fields = parse_id_or_object(value, "the update")
    request_id = parse_request_id(fields.pop("request_id", None))
    return (lambda core, req: core.update(job_id, fields, req)), request_id


def repeat(value: Any) -> tuple[Call, str | None]:
    """QUEUE:REPEAT: an id, or `{"id", "times"}`."""
    job_id, fields = parse_id_or_object(value, "the repeat")
    request_id = parse_request_id(fields.pop("request_id", None))
    if set(fields) - {"times"}:
        raise Rejected('QUEUE:REPEAT takes an id or {"id": ..., "times": k}')
    times = fields.get("times", 1)
    if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times:
        raise Rejected(f"'times' must be a positive integer, got {times!r:.40}")
    if times > limits.MAX_REPEAT:
        raise Rejected(f"'times' is {times}; at most {limits.MAX_REPEAT} (MAX_REPEAT)")
    return (lambda core, req: core.repeat(job_id, times, req)), request_id


def rerun(value: Any) -> tuple[Call, str | None]:
    """QUEUE:RERUN: an id, or `{"id", "position", ...fields of a job spec}`."""
    job_id, fields = parse_id_or_object(value, "the re-run")
    request_id = parse_request_id(fields.pop("request_id", None))
    position = fields.pop("position", None)
    if position is not None:
        position = parse_index(position, "position")
    return (lambda core, req: core.rerun(job_id, fields, position, req)), request_id


def skip(value: Any) -> tuple[Call, str | None]:
    """QUEUE:SKIP: a job id (the running job's ends it)."""
    job_id = parse_id(value.strip() if isinstance(value, str) else value)
    return (lambda core, req: core.skip(job_id, req)), None


def _one(value: Any, refusal: str) -> None:
    if value != 1:
        raise Rejected(f"{refusal} (got {value!r:.40})")


def clear(value: Any) -> tuple[Call, str | None]:
    """QUEUE:CLEAR: write 1."""
    _one(value, "write 1 to clear the queue")
    return (lambda core, req: core.clear(req)), None


def _flag(choices: str, call: Callable[[ScriptServer, bool, Request], Any], zero: bool):
    """A 0/1 PV: `call(core, value == 1 if not zero else value == 0, req)`."""

    def decode(value: Any) -> tuple[Call, str | None]:
        if value not in (0, 1):
            raise Rejected(f"write {choices}, got {value!r:.40}")
        flag = (value == 0) if zero else (value == 1)
        return (lambda core, req: call(core, flag, req)), None

    return decode


def _level(choices: str, call: Callable[[ScriptServer, bool, Request], Any]):
    """A 1/2 PV (deferred or immediate, soft or kill): `call(core, value == 2, req)`."""

    def decode(value: Any) -> tuple[Call, str | None]:
        if value not in (1, 2):
            raise Rejected(f"write {choices}, got {value!r:.40}")
        return (lambda core, req: call(core, value == 2, req)), None

    return decode


def resume(value: Any) -> tuple[Call, str | None]:
    """RESUME: write 1."""
    _one(value, "write 1 to resume")
    return (lambda core, req: core.resume(req)), None


def stop(value: Any) -> tuple[Call, str | None]:
    """STOP: write 1."""
    _one(value, "write 1 to stop all jobs and empty the queue")
    return (lambda core, req: core.stop(req)), None


def reload_commands(value: Any) -> tuple[Call, str | None]:
    """COMMANDS:RELOAD: write 1."""
    _one(value, "write 1 to reload the commands")
    return (lambda core, req: core.reload_commands(req)), None


def validate(value: Any) -> tuple[Call, str | None]:
    """VALIDATE: a job spec, optionally with `dry_run`.

    A spec that cannot be read is answered in `VALIDATE:RESULT` (the write is accepted).
    """
    dry_run = False
    stripped = value.strip() if isinstance(value, str) else ""
    if stripped.startswith("{"):
        obj = load_json(stripped, "the job spec")
        if isinstance(obj, dict) and "dry_run" in obj:
            dry_run = obj.pop("dry_run")
            if not isinstance(dry_run, bool):
                raise Rejected("'dry_run' must be true or false")
            stripped = json.dumps(obj)
    try:
        specs = parse_job_text(stripped)
        if len(specs) != 1:
            raise Rejected("VALIDATE takes one job, not a batch")
    except Rejected as exc:
        problem = str(exc)
        return (lambda core, req: core.validate(None, dry_run, problem, req)), None
    spec = specs[0]
    return (lambda core, req: core.validate(spec, dry_run, "", req)), spec.request_id


def slot_action(value: Any, name: str) -> tuple[Call, str | None]:
    """QUEUE:<n>:ACTION: UP, DOWN, TOP or REMOVE the job in slot n."""
    slot = pvtable.slot_of(name)
    if isinstance(value, bool) or value not in range(1, len(SLOT_ACTIONS)):
        choices = ", ".join(f"{i} ({name})" for i, name in enumerate(SLOT_ACTIONS) if i)
        raise Rejected(f"write one of {choices}, got {value!r:.40}")
    action = SLOT_ACTIONS[value]
    return (lambda core, req: core.slot_action(slot, action, req)), None


def select_output(value: Any) -> tuple[Call, str | None]:
    """JOB:OUTPUT:SELECT: a job id."""
    job_id = parse_id(value)
    return (lambda core, req: core.select_output(job_id, req)), None


DECODERS: dict[str, Callable[..., tuple[Call, str | None]]] = {
    "add": add,
    "remove": remove,
    "move": move,
    "update": update,
    "repeat": repeat,
    "rerun": rerun,
    "skip": skip,
    "clear": clear,
    "set_hold": _flag("0 (RUN) or 1 (HOLD)", ScriptServer.set_hold, zero=False),
    "set_on_error": _flag("0 (HOLD) or 1 (CONTINUE)", ScriptServer.set_on_error, zero=True),
    "set_on_invalid": _flag("0 (HOLD) or 1 (RUN)", ScriptServer.set_on_invalid, zero=True),
    "pause": _level("1 (DEFERRED) or 2 (IMMEDIATE)", ScriptServer.pause),
    "resume": resume,
    "abort": _level("1 (SOFT) or 2 (KILL)", ScriptServer.abort),
    "stop": stop,
    "validate": validate,
    "reload_commands": reload_commands,
    "slot_action": slot_action,
    "select_output": select_output,
}
"""Handler key (the PV table's `handler`) -> decoder of the written value."""

CONTROL_HANDLERS: dict[str, Callable[..., Any]] = {
    key: getattr(ScriptServer, key) for key in DECODERS
}
"""Handler key -> the core call its decoder makes (whose annotation says if it defers)."""


def control(
    core: ScriptServer,
    pv: str,
    value: Any,
    client: str = "",
    on_done: Callable[[Reply], None] | None = None,
) -> Reply | None:
    """Decode a write to control PV `pv` and make its core call; the reply, or None.

    None while the decision waits for slow work; `on_done(reply)` is called exactly once
    when the write is complete (see `ScriptServer` for when).

    Raises:
        KeyError: `pv` is not a control PV.
    """
    key = pvtable.CONTROL_ROUTES[pv]
    decoder = DECODERS[key]
    try:
        call, request_id = decoder(value, pv) if key == "slot_action" else decoder(value)
    except Rejected as exc:
        problem = str(exc)
        call, request_id = (lambda core_, req: core_.refuse(problem, req)), None
    request = Request(pv, client, request_id or request_id_of(value), on_done)
    return call(core, request)
