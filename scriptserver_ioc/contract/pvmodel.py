"""The shape of a PV table row and the checks of a table, of itself and against its code.

`contract/pvtable.py` is the table; this module says what a row holds. `check_rows` checks
every field of every row when the table is imported; `check_control_handlers` (run when
the driver is imported) checks the handlers, and whether each defers, against the core's;
`check_publishing` (run when the publisher is imported) checks builders and topics.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import limits
from .topics import TOPICS

READONLY = "READONLY"
CONTROL = "CONTROL"

MAX_WRITE_COUNT = limits.MAX_WRITE_BYTES + 1
"""Char count of the text control PVs (the write bound plus the terminating NUL)."""

MAX_ARRAY_BYTES = 10_000_000
"""`EPICS_CA_MAX_ARRAY_BYTES` the server sets for itself (the contract's least, 10 MB).

pcas keeps every buffer this large for the life of the process (one from start-up, one per
client connection and direction that ever moved a value over 16 kB, zeroed when taken),
so this figure, not the values, sets most of the server's memory: 40 MB cost 114 MiB."""

MAX_CHAR_COUNT = MAX_ARRAY_BYTES - 4096
"""Largest char count a PV may have: a value of that count, with the metadata of any DBR
type a client may ask for, still fits in the server's `MAX_ARRAY_BYTES` (pcas refuses a
read that does not, even of a shorter value, when the client asks for the full count)."""


@dataclass(frozen=True)
class PV:
    """One process variable.

    Attributes:
        name: name after the prefix.
        type: pcaspy type: `char`, `int`, `float`, `enum` or `string`.
        description: one line for the PV reference.
        count: element count of a char waveform.
        enums: enum strings.
        states: alarm severity per enum state (pcaspy `Severity` values).
        unit: engineering unit.
        prec: display precision.
        control: True for PVs clients write (group CONTROL); False for status (READONLY).
        json: True if the value is JSON; a `:ZHEX` twin is generated.
        asyn: True if the handler defers (may return a `Later`): the put with callback
            completes later than the write returns (pcaspy `asyn`).
        added: True for PVs that extend the contract (listed as additions in the reference).
        handler: for a control PV, the key of its handler in `ioc.writes.CONTROL_HANDLERS`.
        builder: for a published PV, the publisher's builder that sets it (`ioc/builders.py`);
            every PV of one builder is rebuilt together.
        topics: for a published PV, the core's topics (`contract/topics.py`) that rebuild
            it; for a control PV that is also published (a setting), those that read it back.
        idle: for an action PV (PAUSE, ABORT, ...), the value it reads back as once a write
            was processed; None for a PV that keeps what was written or is read back.
        interval: for a published PV, None if it is posted in the writing thread before the
            write returns; else it is built by the publishing thread, at most once per
            `interval` seconds (a burst of edits costs few rebuilds of large JSON).
    """

    name: str
    type: str
    description: str
    count: int = 1
    enums: tuple[str, ...] = ()
    states: tuple[int, ...] = ()
    unit: str = ""
    prec: int = 0
    control: bool = False
    json: bool = False
    asyn: bool = False
    added: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    handler: str = ""
    builder: str = ""
    topics: tuple[str, ...] = ()
    idle: int | None = None
    interval: float | None = None

    def pcaspy_entry(self) -> dict[str, Any]:
        """The pcaspy database entry for this PV."""
        entry: dict[str, Any] = {"type": self.type, "asg": CONTROL if self.control else READONLY}
        if self.type == "char":
            entry["count"] = self.count
            entry["value"] = [0]
        if self.enums:
            entry["enums"] = list(self.enums)
        if self.states:
            entry["states"] = list(self.states)
        if self.unit:
            entry["unit"] = self.unit
        if self.prec:
            entry["prec"] = self.prec
        if self.asyn:
            entry["asyn"] = True
        if self.type == "float":
            entry["value"] = -1.0
        entry.update(self.extra)
        return entry


def zhex_twin(pv: PV) -> PV:
    """The `:ZHEX` twin of a JSON PV: zlib-compressed, hex-encoded JSON."""
    return PV(
        f"{pv.name}:ZHEX",
        "char",
        f"{pv.name} as zlib-compressed hex (IBEX format)",
        count=min(2 * pv.count, MAX_CHAR_COUNT),
        added=pv.added,
        builder=f"{pv.builder}_zhex",
        topics=pv.topics,
        interval=pv.interval,
    )


def builder_pvs(pvs: tuple[PV, ...]) -> dict[str, tuple[str, ...]]:
    """Publisher builder -> the PVs it sets, in table order."""
    groups: dict[str, list[str]] = {}
    for pv in pvs:
        if pv.builder:
            groups.setdefault(pv.builder, []).append(pv.name)
    return {builder: tuple(names) for builder, names in groups.items()}


def topic_builders(pvs: tuple[PV, ...]) -> dict[str, tuple[str, ...]]:
    """Core topic -> the builders whose PVs it refreshes."""
    out: dict[str, list[str]] = {}
    for pv in pvs:
        for topic in pv.topics:
            builders = out.setdefault(topic, [])
            if pv.builder not in builders:
                builders.append(pv.builder)
    return {topic: tuple(builders) for topic, builders in out.items()}


def may_defer(handler: Any) -> bool:
    """Whether a control handler can return a `Later` (slow work), read from its signature.

    The check is static: the handler's return annotation must be written, and it may
    defer if it names `Later` (`-> Later`, `-> Later | None`); `-> None` and `-> Quick`
    (a `Later` whose work always runs at once in the writer's thread) do not defer.

    Raises:
        ImportError: the handler has no return annotation.
    """
    annotation = getattr(handler, "__annotations__", {}).get("return", "missing")
    if annotation == "missing":
        name = getattr(handler, "__qualname__", repr(handler))
        raise ImportError(f"control handler {name} must annotate what it returns")
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return re.search(r"\bLater\b", str(text)) is not None


def check_control_handlers(pvs: tuple[PV, ...], handlers: Mapping[str, Any]) -> None:
    """Control PVs and handlers match one to one; `asyn` exactly when the handler defers.

    Every control PV names exactly one handler that exists, every handler has a PV, and a
    PV is `asyn` exactly when its handler can return a `Later` (`may_defer`).

    Called when the driver is imported, against `ioc.writes.CONTROL_HANDLERS` (as NICOS
    checks its command table at start), so a PV added without a handler, a handler left
    after its PV was removed, or a deferring handler behind a PV whose put would complete
    at once, stops the IOC before it serves anything.

    Raises:
        ImportError: naming the PVs without a handler, the handlers without a PV and the
            PVs whose `asyn` disagrees with their handler.
    """
    control = [pv for pv in pvs if pv.control]
    missing = sorted(pv.name for pv in control if pv.handler not in handlers)
    orphans = sorted(set(handlers) - {pv.handler for pv in control})
    stray = sorted(pv.name for pv in pvs if pv.handler and not pv.control)
    deferring = {key: may_defer(handler) for key, handler in handlers.items()}
    wrong = sorted(
        f"{pv.name} (asyn={pv.asyn}, handler {pv.handler} "
        f"{'may' if deferring[pv.handler] else 'never'} defer{'s' * (not deferring[pv.handler])})"
        for pv in control
        if pv.handler in deferring and deferring[pv.handler] != pv.asyn
    )
    if missing or orphans or stray or wrong:
        raise ImportError(
            f"PV table and control handlers disagree: no handler for {missing or 'none'}; "
            f"no control PV for handlers {orphans or 'none'}; "
            f"handler on a status PV {stray or 'none'}; "
            f"asyn differs from the handler {wrong or 'none'}"
        )


def check_publishing(
    pvs: tuple[PV, ...], builders: Mapping[str, Any], topics: Iterable[str]
) -> None:
    """Every published PV has a builder and topics; every topic and builder has a PV.

    Called when the publisher is imported, against its builders and the topics the core
    reports (`contract.topics.TOPICS`). The PVs of one builder are rebuilt together, so they
    must name the same topics.

    Raises:
        ImportError: naming each disagreement.
    """
    problems = []
    unbuilt = sorted(pv.name for pv in pvs if not pv.control and not pv.builder)
    if unbuilt:
        problems.append(f"status PVs without a builder: {unbuilt}")
    groups = builder_pvs(pvs)
    if set(groups) - set(builders):
        problems.append(f"builders named but not defined: {sorted(set(groups) - set(builders))}")
    if set(builders) - set(groups):
        problems.append(f"builders that set no PV: {sorted(set(builders) - set(groups))}")
    for builder in groups:
        named = {pv.topics for pv in pvs if pv.builder == builder}
        if len(named) != 1 or not next(iter(named)):
            problems.append(f"PVs of builder {builder} must name the same topics, at least one")
    refreshed = set(topic_builders(pvs))
    known = set(topics)
    if refreshed - known:
        problems.append(f"topics the core never reports: {sorted(refreshed - known)}")
    if known - refreshed:
        problems.append(f"topics that refresh no PV: {sorted(known - refreshed)}")
    if problems:
        raise ImportError("PV table and publisher disagree: " + "; ".join(problems))


TYPES = ("char", "int", "float", "enum", "string")
"""The pcaspy types a row may have."""
NAME = re.compile(r"[A-Z][A-Z0-9_]*(:[A-Z0-9_]+)*")
"""A PV name after the prefix: upper-case words joined by colons."""
MAX_ENUM_STATES = 16
MAX_ENUM_CHARS = 25
"""Channel Access enums: at most 16 strings of at most 25 characters (26 with the NUL)."""
EXTRA_KEYS = frozenset({"value"})
"""What `extra` may set in the pcaspy entry (the initial value)."""


def check_rows(pvs: tuple[PV, ...]) -> None:
    """Check every field of every row, alone and against the rows of the same builder.

    Called when the table is imported, so a row that pcaspy would refuse, that no code
    could serve, or that breaks what clients rely on stops every importer (server, client,
    docs) with the row named.

    Raises:
        ImportError: listing each problem with its PV.
    """
    problems: list[str] = []
    names = [pv.name for pv in pvs]
    problems += [f"{n}: named twice" for n in sorted({n for n in names if names.count(n) > 1})]
    for pv in pvs:
        problems += [f"{pv.name}: {problem}" for problem in _row_problems(pv)]
    intervals: dict[str, set[float | None]] = {}
    topics: dict[str, set[tuple[str, ...]]] = {}
    for pv in pvs:
        if pv.builder:
            intervals.setdefault(pv.builder, set()).add(pv.interval)
            topics.setdefault(pv.builder, set()).add(pv.topics)
    for builder in sorted(intervals):
        if len(intervals[builder]) != 1:
            problems.append(f"builder {builder}: its PVs name different rebuild intervals")
        if len(topics[builder]) != 1:
            problems.append(f"builder {builder}: its PVs name different topics")
    if problems:
        raise ImportError("PV table rows are wrong: " + "; ".join(problems))


def _row_problems(pv: PV) -> list[str]:
    """What is wrong with one row on its own."""
    out: list[str] = []
    if not NAME.fullmatch(pv.name):
        out.append("a name is upper-case words joined by colons")
    if pv.type not in TYPES:
        out.append(f"type {pv.type!r} is none of {TYPES}")
    if not pv.description.strip():
        out.append("no description")
    if pv.type == "char" and pv.count < 2 or pv.type != "char" and pv.count != 1:
        out.append(f"count {pv.count}: a char waveform has more than 1, any other type 1")
    if pv.count > MAX_CHAR_COUNT:
        out.append(f"count {pv.count}: more than the server can send (MAX_CHAR_COUNT)")
    if (pv.type == "enum") != bool(pv.enums):
        out.append("an enum PV, and only it, lists its enum strings")
    if len(pv.enums) > MAX_ENUM_STATES or any(len(e) > MAX_ENUM_CHARS for e in pv.enums):
        out.append(f"at most {MAX_ENUM_STATES} enum strings of {MAX_ENUM_CHARS} characters")
    if pv.states and len(pv.states) != len(pv.enums):
        out.append("one alarm severity per enum string")
    if (pv.unit or pv.prec) and pv.type not in ("int", "float"):
        out.append("unit and precision are for numbers")
    if pv.json and (pv.type != "char" or pv.control):
        out.append("a JSON PV is a published char waveform")
    if set(pv.extra) - EXTRA_KEYS:
        out.append(f"extra may set only {sorted(EXTRA_KEYS)}")
    if "value" in pv.extra and pv.enums and pv.extra["value"] not in range(len(pv.enums)):
        out.append("initial value is not an index of its enums")
    if pv.control and not pv.handler:
        out.append("a control PV names its handler")
    if not pv.control and (pv.handler or pv.asyn or pv.idle is not None):
        out.append("handler, asyn and idle are for control PVs")
    if not pv.control and not (pv.builder and pv.topics):
        out.append("a published PV names its builder and topics")
    if bool(pv.builder) != bool(pv.topics):
        out.append("builder and topics go together")
    if set(pv.topics) - TOPICS:
        out.append(f"topics the core never reports: {sorted(set(pv.topics) - TOPICS)}")
    if pv.idle is not None and (pv.type not in ("int", "enum") or pv.builder):
        out.append("an idle value is for an int or enum action PV that is not read back")
    if pv.idle is not None and pv.enums and pv.idle not in range(len(pv.enums)):
        out.append("idle value is not an index of its enums")
    if pv.interval is not None and (not pv.builder or pv.interval < 0):
        out.append("a rebuild interval is a number of seconds >= 0 of a published PV")
    return out
