"""The shape of a PV table row and the checks of a table against the code that serves it.

`ioc/pvtable.py` is the table; this module says what a row holds and checks, at import,
that every control PV has a handler in the core and every published PV a builder and the
core's topics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core import limits

READONLY = "READONLY"
CONTROL = "CONTROL"

MAX_WRITE_COUNT = limits.MAX_WRITE_BYTES + 1
"""Char count of the text control PVs (the write bound plus the terminating NUL)."""

MAX_ARRAY_BYTES = 40_000_000
"""`EPICS_CA_MAX_ARRAY_BYTES` the server sets for itself: above the largest char count."""


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
        asyn: True if a put with callback completes later than the write returns.
        added: True for PVs that extend the contract (listed as additions in the reference).
        handler: for a control PV, the key of its handler in `core.server.CONTROL_HANDLERS`.
        builder: for a published PV, the publisher's builder that sets it (`ioc/builders.py`);
            every PV of one builder is rebuilt together.
        topics: for a published PV, the core's topics (`core/topics.py`) that rebuild it.
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
        count=2 * pv.count,
        added=pv.added,
        builder=f"{pv.builder}_zhex",
        topics=pv.topics,
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


def check_control_handlers(pvs: tuple[PV, ...], handlers: Mapping[str, Any]) -> None:
    """Every control PV names exactly one handler that exists, and every handler has a PV.

    Called when the driver is imported, against `core.server.CONTROL_HANDLERS` (as NICOS
    checks its command table at start), so a PV added without a handler, or a handler
    left after its PV was removed, stops the IOC before it serves anything.

    Raises:
        ImportError: naming the PVs without a handler and the handlers without a PV.
    """
    control = [pv for pv in pvs if pv.control]
    missing = sorted(pv.name for pv in control if pv.handler not in handlers)
    orphans = sorted(set(handlers) - {pv.handler for pv in control})
    stray = sorted(pv.name for pv in pvs if pv.handler and not pv.control)
    if missing or orphans or stray:
        raise ImportError(
            f"PV table and control handlers disagree: no handler for {missing or 'none'}; "
            f"no control PV for handlers {orphans or 'none'}; "
            f"handler on a status PV {stray or 'none'}"
        )


def check_publishing(
    pvs: tuple[PV, ...], builders: Mapping[str, Any], topics: Iterable[str]
) -> None:
    """Every published PV has a builder and topics; every topic and builder has a PV.

    Called when the publisher is imported, against its builders and the topics the core
    reports (`core.topics.TOPICS`). The PVs of one builder are rebuilt together, so they
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
