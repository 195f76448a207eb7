"""Parsing what clients write: job specifications, ids and small JSON commands.

Everything here turns text into plain values or raises `Rejected` with a message a person
can act on. Nothing here touches the queue.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..contract import limits
from .bounds import check_json_numbers, strict_json_loads


class Rejected(ValueError):
    """A write that is refused; the message says what was wrong and what is expected."""


SCRIPTS_REFUSED = (
    "this server runs catalogue commands and script files only (--no-scripts); "
    "send a command or a 'file' from the scripts directory"
)
"""Why a `script` job is refused by a server started with ``--no-scripts``."""

CONTENT_KEYS = ("command", "call", "script", "file")
"""Keys that say what a job runs; a spec has exactly one of them."""

SPEC_KEYS = frozenset(
    {"command", "args", "call", "script", "file", "name", "blackbox", "tags", "request_id"}
)
"""Keys of a job specification (without placement)."""

CALL_HELP = "a call such as set_ei(25) or set_ei(energy=25) with literal arguments"


@dataclass
class JobSpec:
    """A job as a client specified it, before binding and validation."""

    kind: str
    command: str | None = None
    positional: list[Any] = field(default_factory=list)
    keywords: dict[str, Any] = field(default_factory=dict)
    script: str | None = None
    file: str | None = None
    name: str | None = None
    blackbox: bool = False
    tags: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    position: int | None = None


def load_json(text: str, what: str) -> Any:
    """Parse JSON text, rejecting malformed or absurdly nested input."""
    try:
        value = strict_json_loads(text)
    except RecursionError:
        raise Rejected(f"{what} is nested deeper than {limits.MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise Rejected(f"{what} is not valid JSON ({exc})") from None
    if _depth(value) > limits.MAX_JSON_DEPTH:
        raise Rejected(f"{what} is nested deeper than {limits.MAX_JSON_DEPTH} levels")
    return value


def _depth(value: Any, level: int = 0) -> int:
    if level > limits.MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def parse_call(text: str) -> tuple[str, list[Any], dict[str, Any]]:
    """Parse call text `name(args...)` with literal arguments only.

    Returns:
        The command name, the positional and the keyword arguments.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise Rejected(
            f"cannot read {text.strip()[:80]!r} as a command call: syntax error at column "
            f"{exc.offset} ({exc.msg}); expected {CALL_HELP}"
        ) from None
    except (RecursionError, MemoryError, ValueError) as exc:  # deep nesting, huge literals
        raise Rejected(
            f"cannot read the call ({type(exc).__name__}: {str(exc)[:80] or 'too deeply nested'});"
            f" expected {CALL_HELP}"
        ) from None
    node = tree.body
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise Rejected(f"{text.strip()[:80]!r} is not a command call; expected {CALL_HELP}")
    positional = []
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise Rejected("*args is not accepted in a command call; write the values out")
        positional.append(_literal(arg, node.func.id))
    keywords = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise Rejected("**kwargs is not accepted in a command call; write the values out")
        if kw.arg in keywords:
            raise Rejected(f"{node.func.id}: argument {kw.arg!r} is given twice")
        keywords[kw.arg] = _literal(kw.value, node.func.id)
    return node.func.id, positional, keywords


def call_source(command: str, args: dict[str, Any]) -> str:
    """The Python source of a command job: a call with its bound arguments (the one generator).

    E.g. ``set_ei(energy=25.0, wait=True)``; keys that are not identifiers go as ``**{...}``.
    """
    if all(isinstance(k, str) and k.isidentifier() for k in args):
        inner = ", ".join(f"{k}={v!r}" for k, v in args.items())
    else:
        inner = f"**{args!r}"
    return f"{command}({inner})"


def _literal(node: ast.AST, command: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise Rejected(
            f"{command}: argument {ast.unparse(node)[:60]!r} is not a literal; only numbers, "
            "strings, booleans, None, lists and dicts are accepted"
        ) from None
    if isinstance(value, (tuple, set, frozenset)):
        value = list(value)
    if isinstance(value, (complex, bytes)):
        raise Rejected(f"{command}: argument {value!r} must be a number, string or list")
    try:
        check_json_numbers(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise Rejected(f"{command}: argument {str(value)[:60]!r} is not accepted ({exc})") from None
    return value


def parse_job_text(text: str) -> list[JobSpec]:
    """Parse a QUEUE:ADD / VALIDATE value: call text, a spec object, or a batch array.

    Returns:
        The job specifications, in order (one unless a batch was written).
    """
    stripped = text.strip()
    if not stripped:
        raise Rejected(f"the value is empty; expected {CALL_HELP}, a JSON job spec or a batch")
    if stripped[0] not in "{[":
        command, positional, keywords = parse_call(stripped)
        return [JobSpec(kind="command", command=command, positional=positional, keywords=keywords)]
    value = load_json(stripped, "the job spec")
    if isinstance(value, dict):
        return [parse_spec(value, allow_position=True)]
    if not isinstance(value, list) or not value:
        raise Rejected("a batch must be a non-empty JSON array of job specs")
    if len(value) > limits.MAX_BATCH:
        raise Rejected(
            f"the batch has {len(value)} jobs; at most {limits.MAX_BATCH} (MAX_BATCH) are "
            "accepted in one write"
        )
    specs = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise Rejected(f"batch item {index} is not a JSON object")
        try:
            specs.append(parse_spec(item, allow_position=index == 0))
        except Rejected as exc:
            raise Rejected(f"batch item {index}: {exc}") from None
    return specs


def parse_spec(obj: dict[str, Any], allow_position: bool = True) -> JobSpec:
    """Parse one JSON job spec object (keys of the contract, nothing else)."""
    allowed = SPEC_KEYS | ({"position"} if allow_position else set())
    unknown = sorted(set(obj) - allowed)
    if unknown:
        where = "" if allow_position or "position" not in unknown else " (only the first item "
        where += "of a batch may give a position)" if where else ""
        raise Rejected(
            f"unknown key {unknown[0]!r}{where}; a job spec takes {', '.join(sorted(allowed))}"
        )
    content = [key for key in CONTENT_KEYS if key in obj]
    if len(content) != 1:
        raise Rejected(
            "a job spec needs exactly one of 'command', 'call', 'script' or 'file'"
            + (f" (got {', '.join(content)})" if content else "")
        )
    spec = JobSpec(kind="command")
    key = content[0]
    if "args" in obj and key != "command":
        raise Rejected("'args' goes with 'command' only")
    if key == "command":
        spec.command = _text(obj["command"], "command", 200)
        spec.positional, spec.keywords = split_args(obj.get("args"))
    elif key == "call":
        spec.command, spec.positional, spec.keywords = parse_call(_text(obj["call"], "call"))
    elif key == "script":
        spec.kind = "script"
        spec.script = _text(obj["script"], "script")
        size = len(spec.script.encode("utf-8"))
        if size > limits.MAX_SCRIPT_BYTES:
            raise Rejected(
                f"the script is {size} bytes; at most {limits.MAX_SCRIPT_BYTES} "
                "(MAX_SCRIPT_BYTES) are accepted"
            )
        if not spec.script.strip():
            raise Rejected("the script is empty")
    else:
        spec.kind = "file"
        spec.file = _text(obj["file"], "file", 1000)
    apply_options(spec, obj)
    if allow_position and "position" in obj:
        spec.position = parse_index(obj["position"], "position")
    return spec


def split_args(args: Any) -> tuple[list[Any], dict[str, Any]]:
    """A command's ``args``: an object of named arguments or an array of positional ones.

    Returns:
        ``(positional, keywords)``; absent (None) is no arguments.

    Raises:
        Rejected: anything else.
    """
    if args is None:
        return [], {}
    if isinstance(args, dict):
        return [], args
    if isinstance(args, list):
        return args, {}
    raise Rejected(
        "'args' must be an object of named arguments or an array of positional ones, "
        f"got {args!r:.60}"
    )


def apply_options(spec: JobSpec, obj: dict[str, Any]) -> None:
    """Copy the optional keys (name, blackbox, tags, request_id) from `obj` into `spec`."""
    if "name" in obj:
        spec.name = _text(obj["name"], "name", limits.MAX_NAME_CHARS)
    if "blackbox" in obj:
        if not isinstance(obj["blackbox"], bool):
            raise Rejected("'blackbox' must be true or false")
        spec.blackbox = obj["blackbox"]
    if "tags" in obj:
        spec.tags = parse_tags(obj["tags"])
    if "request_id" in obj:
        spec.request_id = parse_request_id(obj["request_id"])


def parse_request_id(value: Any) -> str | None:
    """A writer's ``request_id``, echoed in its reply: the one rule of every control PV.

    Absent (None) or empty means none given; else a string of at most MAX_REQUEST_ID_CHARS.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limits.MAX_REQUEST_ID_CHARS:
        raise Rejected(
            f"'request_id' must be a string of at most {limits.MAX_REQUEST_ID_CHARS} "
            f"characters (MAX_REQUEST_ID_CHARS), got {value!r:.40}"
        )
    return value


_REQUEST_ID = re.compile(r'"request_id"\s*:\s*"([^"\\\x00-\x1f]*)"')


def request_id_of(value: Any) -> str | None:
    """The request id a refused write carried, so its reply can echo it (`parse_request_id`).

    Looks into written JSON (an object, or the first object of a batch) and, when the JSON
    is malformed, for a ``"request_id": "..."`` pair in the text.
    """
    if not isinstance(value, str) or "request_id" not in value:
        return None
    try:
        obj = strict_json_loads(value)
    except (ValueError, RecursionError, TypeError):
        match = _REQUEST_ID.search(value)
        found = match.group(1) if match else None
    else:
        if isinstance(obj, list) and obj:
            obj = obj[0]
        found = obj.get("request_id") if isinstance(obj, dict) else None
    try:
        return parse_request_id(found)
    except Rejected:
        return None


def parse_tags(tags: Any) -> dict[str, Any]:
    """Check a `tags` object: any JSON object within MAX_TAGS_BYTES."""
    if not isinstance(tags, dict):
        raise Rejected('\'tags\' must be a JSON object such as {"group": "scan", "index": 1}')
    size = len(json.dumps(tags))
    if size > limits.MAX_TAGS_BYTES:
        raise Rejected(f"'tags' is {size} bytes; at most {limits.MAX_TAGS_BYTES} (MAX_TAGS_BYTES)")
    return tags


def _text(value: Any, key: str, max_chars: int | None = None) -> str:
    if not isinstance(value, str):
        raise Rejected(f"{key!r} must be a string, got {type(value).__name__}")
    if max_chars is not None and len(value) > max_chars:
        raise Rejected(f"{key!r} is {len(value)} characters; at most {max_chars} are accepted")
    return value


def parse_index(value: Any, key: str) -> int:
    """A non-negative integer index (JSON numbers only; booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Rejected(f"{key!r} must be a non-negative integer index, got {value!r}")
    return value


def parse_id(value: Any, what: str = "job id") -> int:
    """A positive integer job id, from a JSON number or digits."""
    digits = value.strip() if isinstance(value, str) else ""
    if digits.isascii() and digits.isdigit() and len(digits) <= 19:
        value = int(digits)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= limits.MAX_JOB_ID:
        raise Rejected(
            f"{what} must be a positive integer up to {limits.MAX_JOB_ID}, got {value!r:.60}"
        )
    return value


def parse_id_or_object(text: str, what: str) -> tuple[int, dict[str, Any]]:
    """Parse `17` or `{"id": 17, ...}`: the id and the object's other keys."""
    stripped = text.strip()
    if stripped.isdigit():
        return parse_id(stripped), {}
    if not stripped.startswith("{"):
        raise Rejected(
            f"{what}: expected a job id or a JSON object with 'id', got {stripped!r:.60}"
        )
    obj = load_json(stripped, what)
    if not isinstance(obj, dict) or "id" not in obj:
        raise Rejected(f"{what} needs an 'id'")
    rest = dict(obj)
    return parse_id(rest.pop("id")), rest


def parse_ids(text: str) -> list[int] | None:
    """Parse `17`, `[17, 18]` or `all` (None means all)."""
    stripped = text.strip()
    if stripped.lower() == "all":
        return None
    if not stripped:
        raise Rejected("expected a job id, a JSON array of ids, or 'all'")
    value = load_json(stripped, "the id list")
    if isinstance(value, list):
        if not value:
            raise Rejected("the id list is empty")
        if len(value) > limits.MAX_QUEUE_LENGTH:
            raise Rejected(f"at most {limits.MAX_QUEUE_LENGTH} ids are accepted")
        return list(dict.fromkeys(parse_id(v) for v in value))
    return [parse_id(value)]
