"""Bad input on every control PV: a clear error, a WRITE alarm, and no change of state."""

from __future__ import annotations

import json
import random
import threading

import numpy as np
import pytest
from conftest import settle_preflights

from scriptserver_ioc.contract.pvtable import BY_NAME, CONTROL_PVS
from scriptserver_ioc.ioc.encoding import ascii_text

TEXT_PVS = [name for name in CONTROL_PVS if BY_NAME[name].type == "char"]
NUMBER_PVS = [name for name in CONTROL_PVS if BY_NAME[name].type != "char"]
ENUM_2 = [name for name in NUMBER_PVS if len(BY_NAME[name].enums) == 2]
"""Settings with two states: 0 and 1 are both valid."""

RNG = random.Random(20261128)
BAD_TEXT = {
    "malformed-json": '{"id": 1, "to": ',
    "wrong-types": '{"id": "seven", "to": [], "times": "x", "args": 5, "script": 3}',
    "unknown-id": "999999",
    "unknown-id-object": '{"id": 999999, "to": 0, "times": 2, "args": {}}',
    "negative-id": "-4",
    "unknown-key": '{"id": 1, "sctipt": "print(1)", "tooo": 3}',
    "non-ascii": "ψ(ω) = ∑ µ€ — 日本語",
    "array-of-junk": '[1, null, {}, [], "x"]',
    "deep-json": "[" * 5000 + "]" * 5000,
    "huge-number": '{"id": 1' + "0" * 400 + ', "by": 1e999}',
    "syntax-error-call": "set_ei(25",
    "empty": "   ",
    "not-a-literal": "set_ei(__import__('os').system('true'))",
}


def snapshot(client):
    status = client.get_json("STATUS")
    status.pop("server_time")
    return client.get_text("QUEUE"), client.get_text("HISTORY"), status


def severity(client, name):
    meta = client.pv(name).get_with_metadata(form="time", use_monitor=False, as_numpy=True)
    return meta["severity"], meta["status"]


@pytest.fixture
def loaded(client):
    client.add("set_ei(25)")
    client.add({"script": "print('hello')", "tags": {"group": "g"}})
    (skipped,) = client.add("set_ei(30)")
    client.put("QUEUE:SKIP", str(skipped))
    settle_preflights(client)
    return client


def test_GIVEN_queue_WHEN_bad_text_written_to_every_text_control_PV_THEN_rejected_and_unchanged(
    loaded,
):
    client = loaded
    before = snapshot(client)
    for pv_name in TEXT_PVS:
        for label, text in BAD_TEXT.items():
            if pv_name == "VALIDATE":
                continue  # VALIDATE reports invalid jobs in its result instead (below)
            reply = client.put(pv_name, text)
            assert reply is not None and not reply["ok"], (pv_name, label, reply)
            assert reply["message"].startswith(pv_name + ":"), reply
            assert len(reply["message"]) > len(pv_name) + 10, reply
            assert client.get_text("LAST_ERROR:TEXT") == ascii_text(reply["message"])
            sev, stat = severity(client, pv_name)
            assert (sev, stat) == (3, 2), (pv_name, label, sev, stat)  # INVALID, WRITE
            assert snapshot(client) == before, (pv_name, label)


def test_GIVEN_queue_WHEN_random_bytes_written_THEN_rejected_and_unchanged(loaded):
    client = loaded
    before = snapshot(client)
    for pv_name in TEXT_PVS:
        for size in (1, 17, 4096):
            junk = bytes(RNG.randrange(1, 256) for _ in range(size))
            data = np.frombuffer(junk + b"\0", dtype=np.uint8)
            client.pv(pv_name).put(data, wait=True, timeout=5)
            if pv_name != "VALIDATE":
                assert not client.reply_for(pv_name)["ok"]
            assert snapshot(client) == before, (pv_name, size)


def test_GIVEN_write_over_the_bound_WHEN_written_THEN_rejected_naming_the_bound(loaded):
    client = loaded
    before = snapshot(client)
    big_script = json.dumps({"script": "x = 1\n" * 60_000})
    reply = client.put("QUEUE:ADD", big_script)
    assert not reply["ok"] and "MAX_SCRIPT_BYTES" in reply["message"]
    batch = json.dumps([{"call": "set_ei(11)"}] * 6000)
    reply = client.put("QUEUE:ADD", batch)
    assert not reply["ok"] and "MAX_BATCH" in reply["message"]
    huge = "x" * 1_200_000  # longer than the PV: the client cuts it, the server notices
    client.pv("QUEUE:ADD").put(huge, wait=True, timeout=10)
    assert "MAX_WRITE_BYTES" in client.reply_for("QUEUE:ADD")["message"]
    reply = client.put("QUEUE:REPEAT", {"id": client.queue()[0]["id"], "times": 5000})
    assert not reply["ok"] and "MAX_REPEAT" in reply["message"]
    assert snapshot(client) == before


def test_GIVEN_idle_server_WHEN_bad_numbers_written_to_number_PVs_THEN_rejected(loaded):
    client = loaded
    before = snapshot(client)
    for pv_name in NUMBER_PVS:
        for value in (7, -1, 2**31 - 1, 0) if pv_name not in ENUM_2 else (7, -1, 2**15 - 1):
            if pv_name in ENUM_2 and value in (0, 1):
                continue
            client.pv(pv_name).put(value, wait=True, timeout=5)
            reply = client.reply_for(pv_name)
            assert reply is not None and not reply["ok"], (pv_name, value, reply)
            assert snapshot(client) == before, (pv_name, value)
    # valid values that make no sense in this state: nothing is running
    for pv_name, value, words in (
        ("PAUSE", 1, "no job"),
        ("RESUME", 1, "no job"),
        ("ABORT", 2, "no job"),
    ):
        client.pv(pv_name).put(value, wait=True, timeout=5)
        assert words in client.reply_for(pv_name)["message"]
    assert snapshot(client) == before


def test_GIVEN_strings_to_number_PVs_WHEN_not_numbers_or_state_names_THEN_rejected(
    loaded, caproto_context
):
    from caproto import ChannelType

    client = loaded
    before = snapshot(client)
    (pv,) = caproto_context.get_pvs(client.prefix + "QUEUE:HOLD", timeout=5)
    pv.wait_for_connection(timeout=5)
    pv.write([b"MAYBE"], data_type=ChannelType.STRING, wait=True, timeout=5)
    assert client.get("QUEUE:HOLD") == 1
    assert snapshot(client) == before
    # Any non-numeric bytes, as a string, to every number and enum PV. (Numeric text such as
    # "1.7" is converted to 1 by the CA server library before the server sees it, as in any
    # EPICS IOC, so it counts as a number.)
    for name in NUMBER_PVS:
        (pv,) = caproto_context.get_pvs(client.prefix + name, timeout=5)
        pv.wait_for_connection(timeout=5)
        for junk in (b"\xff\xfe\x00", "µ€".encode(), b"-0x7", b" ", b"MAYBE", b"[]"):
            try:
                pv.write([junk], data_type=ChannelType.STRING, wait=True, timeout=5)
            except Exception as exc:  # the server may refuse the conversion outright
                assert "Timeout" not in type(exc).__name__, (name, junk, exc)
    assert snapshot(client) == before
    assert client.get("QUEUE:HOLD") == 1 and client.get("STATE") == 0  # alive, unchanged


def test_GIVEN_status_PVs_WHEN_written_THEN_refused(client, caproto_context):
    import epics

    for name in ("STATE", "QUEUE", "QUEUE:COUNT", "CURRENT:LINE", "LAST_ERROR", "SERVER:HEARTBEAT"):
        pv = client.pv(name)
        assert pv.write_access is False, name
        with pytest.raises(epics.ca.CASeverityException):
            pv.put("x" if BY_NAME[name].type in ("char", "string") else 1, wait=True, timeout=5)
    (pv,) = caproto_context.get_pvs(client.prefix + "QUEUE:COUNT", timeout=5)
    pv.wait_for_connection(timeout=5)
    response = pv.write([42], wait=True, timeout=5)
    assert response.status.name == "ECA_NOWTACCESS"
    assert client.get("QUEUE:COUNT") == 0


def test_GIVEN_invalid_job_WHEN_validated_THEN_result_lists_error_and_queue_unchanged(loaded):
    client = loaded
    before = snapshot(client)
    client.put("VALIDATE", {"call": "set_ei('fast')", "request_id": "v1"})
    result = client.get_json("VALIDATE:RESULT")
    assert result["request_id"] == "v1" and result["ok"] is False
    assert "energy" in result["errors"][0]["message"]
    client.put("VALIDATE", {"script": "for x in range(3):\n    print(x\n", "request_id": "v2"})
    result = client.get_json("VALIDATE:RESULT")
    assert result["ok"] is False and result["errors"][0]["line"] == 2
    assert snapshot(client) == before


def test_GIVEN_several_clients_WHEN_adding_moving_removing_at_once_THEN_every_accepted_op_counted(
    client,
):
    """Three writers and a remover race; the final queue is what their accepted ops imply."""
    from scriptserver_ioc.client.client import ClientError, ScriptServerClient

    added: list[int] = []
    removed: list[int] = []
    errors: list[BaseException] = []
    writers_done = threading.Event()

    def writer(n: int) -> None:
        try:
            c = ScriptServerClient(client.prefix)
            for i in range(30):
                reply = c.request("QUEUE:ADD", {"call": f"set_ei({10 + n * 100 + i})"})
                added.extend(reply["job_ids"])
                if i % 3 == 2:
                    try:
                        c.request("QUEUE:MOVE", {"id": reply["job_ids"][0], "to": 0})
                    except ClientError as exc:  # the remover may have been quicker
                        assert "is not queued" in str(exc)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    def remover() -> None:
        c = ScriptServerClient(client.prefix)
        seen = 0
        while not writers_done.is_set() or seen < len(added):
            if seen < len(added):
                victim = added[seen]
                seen += 2
                if c.put("QUEUE:REMOVE", str(victim))["ok"]:
                    removed.append(victim)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    cleaner = threading.Thread(target=remover)
    for t in [*threads, cleaner]:
        t.start()
    for t in threads:
        t.join(120)
    writers_done.set()
    cleaner.join(120)
    assert not errors, errors
    assert len(added) == len(set(added)) == 90
    assert removed
    queued = [job["id"] for job in client.queue()]
    assert len(queued) == len(set(queued))
    assert set(queued) == set(added) - set(removed)
    assert client.get("QUEUE:COUNT") == len(queued)
