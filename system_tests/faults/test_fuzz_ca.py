"""Seeded fuzzing of every control PV of the PV table over Channel Access (issue #10).

Every malformed write that reaches the server must get exactly one REPLY (refused, with a
message that is not "internal error", echoing its request id), change nothing, and leave
the heartbeat going. Writes the CA library itself converts into a valid value (documented
in docs/pv-reference.md) are not sent; text it refuses (ECA_PUTFAIL) must get no REPLY and
change nothing either.
"""

from __future__ import annotations

import json
import math
import random

import pytest
from campaign import Probe, report, size

from scriptserver_ioc.contract import limits
from scriptserver_ioc.contract.pvtable import BY_NAME, CONTROL_PVS

SEED = 20261201
TEXT_PVS = [n for n in CONTROL_PVS if BY_NAME[n].type == "char"]
NUMBER_PVS = [n for n in CONTROL_PVS if BY_NAME[n].type != "char"]
INT32_MIN = -(2**31)


def valid_numbers(name: str) -> set[int]:
    """What a number PV accepts, from the PV table: any state of an enum, 1 for actions."""
    pv = BY_NAME[name]
    return set(range(len(pv.enums))) if pv.enums else {1}


def seen_by_server(name: str, value, as_double: bool) -> int:
    """The value pcas hands the server (measured; see the PV reference's table)."""
    enum = bool(BY_NAME[name].enums)
    if as_double:
        if not math.isfinite(value) or not INT32_MIN <= value < 2**31:
            return 0 if enum else INT32_MIN
        value = math.trunc(value)
    return value % 65536 if enum else value


def number_cases(rng: random.Random, name: str):
    """(value, as_double) pairs whose server-side value is not valid for `name`."""
    edges = [0, -1, 2, 3, 7, 255, 256, 32767, 32768, 65535, 65536, 65537, 65538, 2**31 - 1]
    edges += [INT32_MIN, -65535, rng.randrange(INT32_MIN, 2**31)]
    doubles = [0.5, 1.9999, 2.5, -0.5, 1e300, -1e300, math.nan, math.inf, -math.inf, 1e10]
    doubles += [rng.uniform(-1e6, 1e6)]
    cases = [(v, False) for v in edges] + [(v, True) for v in doubles]
    good = valid_numbers(name)
    return [(v, d) for v, d in cases if seen_by_server(name, v, d) not in good]


def junk_strings(rng: random.Random, name: str) -> list[bytes]:
    """Text no CA conversion reads as a number or state name: refused by pcas itself."""
    pv = BY_NAME[name]
    picks = [b"MAYBE", b"#1", b"@", b"{}", b"~~", b"\xff\xfe", "µ€".encode()]
    tail = bytes(rng.randrange(33, 127) for _ in range(8))
    picks.append(bytes([rng.choice(b"#@{~%&")]) + tail)
    return [p for p in picks if p.decode("latin-1") not in pv.enums]


def text_cases(rng: random.Random, n: int):
    """`n` malformed values for char PVs: (bytes, request id the reply must echo)."""
    rid = f"fz{n}"
    big = 10**6 + rng.randrange(10**6)
    makers = [
        lambda: (b"\x7f" + bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 4096))),),
        lambda: (b'{"request_id": "%s", "x": "\xff\xfe\xc3"}' % rid.encode(), rid),
        lambda: (("[" * rng.randrange(33, 3000)).encode(),),
        lambda: (f'{{"request_id": "{rid}", "a": ' + "[" * 5000 + "]" * 5000 + "}", rid),
        lambda: ({"id": big, "bogus": 1, "request_id": rid}, rid),
        lambda: ({"id": "x", "to": [], "times": "y", "args": 5, "request_id": rid}, rid),
        lambda: (f'{{"id": {big}, "by": 1e999, "request_id": "{rid}"}}', rid),
        lambda: (f'{{"call": "set_ei(25)", "tags": {{"x": NaN}}, "request_id": "{rid}"}}', rid),
        lambda: ([{"c": 1}] * (limits.MAX_BATCH + 1),),
        lambda: ([{"request_id": rid, "c": 1}] + [{"c": 1}] * (limits.MAX_BATCH - 1), rid),
        lambda: ({"id": big, "times": limits.MAX_REPEAT + 1, "request_id": rid}, rid),
        lambda: ({"id": rng.choice([0, -1, 2**31, 2**63 - 1, -(2**63)]), "request_id": rid}, rid),
        lambda: ({"call": "set_ei(25)", "name": "n" * (limits.MAX_NAME_CHARS + 1), "zz": 1},),
        lambda: ({"call": "set_ei(25)", "request_id": "r" * 129, "bogus": 2},),
        lambda: ({"script": "x = 1\n" * 100_000, "bogus": 1, "request_id": rid}, rid),
        lambda: (str(-rng.randrange(1, 10**30)),),
        lambda: ("set_ei(" + "[" * 2000 + "1)",),
    ]
    value, *echo = makers[n % len(makers)]()
    if not isinstance(value, (str, bytes)):
        value = json.dumps(value)
    data = value.encode("utf-8") if isinstance(value, str) else value
    return data, (echo[0] if echo else None)


@pytest.fixture
def probe(ioc, caproto_context):
    p = Probe(caproto_context, ioc.prefix)
    p.pv("QUEUE:HOLD").write([1], wait=True, timeout=10)
    for call in ("set_ei(25)", "set_ei(30)"):
        p.pv("QUEUE:ADD").write(call.encode() + b"\0", wait=True, timeout=10)
    return p


def test_GIVEN_every_control_pv_WHEN_fuzzed_THEN_one_reply_each_and_nothing_changes(probe, ioc):
    from caproto import ChannelType

    rng = random.Random(SEED)
    writes = size(300, 10_000)
    before = probe.snapshot()
    figures = dict(sent=0, replies=0, ca_refused=0, echoed=0, internal=0, accepted=0)
    seq = probe.last_seq()
    n = 0
    while figures["sent"] < writes:
        n += 1
        name = rng.choice(CONTROL_PVS)
        callback = rng.random() < 0.7
        if name in TEXT_PVS:
            data, rid = text_cases(rng, n)
            status = probe.pv(name).write(
                data + b"\0", data_type=ChannelType.CHAR, wait=callback, timeout=30
            )
            expected = 1
        elif rng.random() < 0.15:
            junk = rng.choice(junk_strings(rng, name))
            status = probe.pv(name).write(
                [junk], data_type=ChannelType.STRING, wait=True, timeout=10
            )
            assert status.status.name == "ECA_PUTFAIL", (name, junk, status)
            figures["ca_refused"] += 1
            rid, expected = None, 0
        else:
            value, as_double = rng.choice(number_cases(rng, name))
            kind = ChannelType.DOUBLE if as_double else ChannelType.LONG
            status = probe.pv(name).write([value], data_type=kind, wait=callback, timeout=10)
            rid, expected = None, 1
        figures["sent"] += 1
        if callback and status is not None:
            assert status.status.name in ("ECA_NORMAL", "ECA_PUTFAIL"), (name, status)
        new = probe.replies_after(seq, wait_for=expected, timeout=30 if expected else 0.05)
        assert len(new) == expected, (name, n, new)
        for reply in new:
            seq = reply["seq"]
            figures["replies"] += 1
            assert reply["pv"] == name and reply["job_ids"] == [], reply
            if name != "VALIDATE":
                figures["accepted"] += reply["ok"]
                assert not reply["ok"], (name, n, reply)
            figures["internal"] += "internal error" in reply["message"]
            assert "internal error" not in reply["message"], reply
            assert len(reply["message"]) > len(name) + 10, reply
            if rid is not None:
                assert reply["request_id"] == rid, (name, n, reply)
                figures["echoed"] += 1
        if figures["sent"] % 50 == 0:
            assert probe.snapshot() == before, (name, n)
            assert probe.heartbeat_alive(), "the heartbeat stopped"
    assert probe.snapshot() == before
    assert probe.heartbeat_alive()
    assert ioc.process.poll() is None
    report("fuzz", seed=SEED, **figures)
