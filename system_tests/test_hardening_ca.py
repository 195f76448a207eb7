"""Hardening (issue #10): poison values, bad .acf files and refused writes, over CA.

Each test here failed on the server before the fix: the IOC aborted on a 1e14 s estimate
and never started again on that data directory; a malformed .acf ended in SIGSEGV; refused
JSON writes lost their request id and NaN made QUEUE non-strict JSON.
"""

from __future__ import annotations

import json
import math
import sqlite3

import pytest
from conftest import wait_until
from test_startup import run_ioc

POISON_COMMANDS = '''
def hold_for(seconds: float):
    """Wait for `seconds`."""


def estimate_hold_for(seconds):
    return seconds
'''


@pytest.fixture
def poison_commands(tmp_path):
    commands = tmp_path / "commands"
    commands.mkdir()
    (commands / "hold.py").write_text(POISON_COMMANDS)
    return commands


def test_GIVEN_estimate_of_1e14_s_WHEN_eta_and_finish_read_THEN_ioc_alive_and_estimate_unknown(
    start_ioc, poison_commands
):
    from scriptserver_ioc.client.client import ScriptServerClient

    ioc = start_ioc(commands=poison_commands)
    client = ScriptServerClient(ioc.prefix)
    client.put("QUEUE:HOLD", 1)
    (job_id,) = client.add("hold_for(1e14)")
    (sane,) = client.add("hold_for(60)")
    assert client.put("QUEUE:UPDATE", {"id": sane, "args": {"seconds": 1e15}})["ok"]
    assert client.put("QUEUE:REPEAT", {"id": job_id, "times": 1000})["ok"]
    for name in ("QUEUE:ETA", "QUEUE:FINISH", "STATUS", "QUEUE"):
        client.get(name) if name.startswith("QUEUE:") else client.get_json(name)
    queue = client.queue()
    assert [job["estimate"] for job in queue] == [None] * len(queue)
    assert "MAX_ESTIMATE_SECONDS" in queue[0]["warnings"][-1]
    beat = client.get("SERVER:HEARTBEAT")
    wait_until(lambda: client.get("SERVER:HEARTBEAT") > beat, timeout=5)
    assert ioc.process.poll() is None


def test_GIVEN_poisoned_and_garbage_rows_in_store_WHEN_restarted_THEN_serves_and_says_so(
    start_ioc, tmp_path
):
    from scriptserver_ioc.client.client import ScriptServerClient

    ioc = start_ioc()
    client = ScriptServerClient(ioc.prefix)
    client.put("QUEUE:HOLD", 1)
    ids = client.add([{"call": f"set_ei({10 + i})"} for i in range(3)])
    ioc.stop()
    database = ioc.data_dir / "scriptserver.sqlite"
    with sqlite3.connect(database) as conn:
        (record,) = conn.execute("SELECT record FROM jobs WHERE id=?", (ids[0],)).fetchone()
        poisoned = {**json.loads(record), "estimate": 1e14}
        conn.execute("UPDATE jobs SET record=? WHERE id=?", (json.dumps(poisoned), ids[0]))
        conn.execute("UPDATE jobs SET record='{\"id\": NaN' WHERE id=?", (ids[1],))

    ioc.start(new_prefix=True)  # failed before: OverflowError at every start

    client = ScriptServerClient(ioc.prefix)
    assert [job["id"] for job in client.queue()] == [ids[0], ids[2]]
    assert math.isfinite(client.get("QUEUE:ETA"))
    log = client.get_text("LOG")
    assert f"job row {ids[1]} set aside in the quarantine table" in log
    assert f"job {ids[0]}: 'estimate'" in log
    assert "quarantine" in client.get_text("LAST_ERROR:TEXT")


BAD_ACF = {
    "bad-access-right": ("ASG(DEFAULT) {\n  RULE(1, READ)\n  RULE(1, WRIT)\n}\n", "line 3"),
    "unclosed": ("ASG(DEFAULT) {\n  RULE(1, READ)\n", "line"),
    "unknown-word": ("UAG(ops) {alice}\nASG(DEFAULT) {\n  RULES(1, READ)\n}\n", "line 3"),
    "junk": ("\x7f\x01ELF garbage )))\n", "line 1"),
}


@pytest.mark.parametrize("label", sorted(BAD_ACF))
def test_GIVEN_malformed_acf_WHEN_started_THEN_one_line_naming_the_line_and_exit_2(tmp_path, label):
    text, words = BAD_ACF[label]
    acf = tmp_path / "bad.acf"
    acf.write_text(text)
    result = run_ioc("--data-dir", str(tmp_path / "d"), "--acf", str(acf))  # checked first
    assert result.returncode == 2, (result.returncode, result.stderr[-500:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(acf) in lines[0] and words in lines[0], lines[0]


NOT_STRICT_OR_OUT_OF_RANGE = {
    "QUEUE:ADD": [
        '{"call": "set_ei(25)", "tags": {"x": NaN}, "request_id": "nan-tags"}',
        '{"call": "set_ei(25)", "tags": {"x": 1e999}, "request_id": "inf-tags"}',
        '{"call": "set_ei(' + "[" * 400 + '1)", "request_id": "deep-call"}',
        '[{"call": "set_ei(25)", "request_id": "batch-1"}, {"call": "set_ei(Infinity)"}]',
        '{"command": "set_ei", "args": {"energy": 1' + "0" * 40 + '}, "request_id": "big-int"}',
        '{"call": "set_ei(25)", "request_id": "cut-short", "tags": {',
    ],
    "QUEUE:REMOVE": ["\u00b2", "9" * 30, '{"request_id": "rm"}'],
    "QUEUE:MOVE": ['{"id": 1, "by": NaN, "request_id": "mv-nan"}'],
    "QUEUE:REPEAT": ['{"id": 99999999999, "times": 2, "request_id": "rep-big"}'],
}


def test_GIVEN_non_strict_json_or_huge_numbers_WHEN_written_THEN_one_reply_with_message(client):
    before = client.get_text("QUEUE")
    for pv_name, values in NOT_STRICT_OR_OUT_OF_RANGE.items():
        for text in values:
            seq = client.get_json("REPLY")[0]["seq"]
            client.pv(pv_name).put(text.encode() + b"\0", wait=True, timeout=5)
            replies = [r for r in client.get_json("REPLY") if r["seq"] > seq]
            assert len(replies) == 1, (pv_name, text[:60], replies)
            (reply,) = replies
            assert reply["pv"] == pv_name and not reply["ok"] and not reply["job_ids"]
            assert "internal error" not in reply["message"], reply
            assert len(reply["message"]) > len(pv_name) + 10, reply
            if '"request_id": "' in text:
                expected = text.split('"request_id": "')[1].split('"')[0]
                assert reply["request_id"] == expected, (text[:60], reply)
    assert client.get_text("QUEUE") == before
    json.loads(client.get_text("QUEUE"), parse_constant=_refuse)


def _refuse(name):
    raise AssertionError(f"{name} in a JSON PV")


def raw_bytes(client, name: str) -> bytes:
    return bytes(client.pv(name).get(use_monitor=False, as_numpy=True)).split(b"\0", 1)[0]


def test_GIVEN_non_ascii_and_invalid_output_WHEN_text_pvs_read_THEN_escaped_ascii_within_bound(
    client,
):
    """Before: LAST_ERROR:TEXT and LOG held raw UTF-8 and CURRENT:OUTPUT 48 kB of U+FFFD."""
    client.put("QUEUE:ADD", "µ€(1)")
    error = raw_bytes(client, "LAST_ERROR:TEXT")
    assert error.isascii() and b"\\xb5\\u20ac" in error, error
    client.add({"call": "set_ei(25)", "name": "Probe µ€ 日本"})
    log = raw_bytes(client, "LOG")
    assert log.isascii() and b"\\xb5\\u20ac" in log, log[-200:]
    script = (
        "import sys, time\n"
        "raw = getattr(sys.stdout, 'buffer', None)  # none in the pre-flight dry run\n"
        "raw and raw.write(b'\\xff\\xfe' * 20000 + b'\\n')\n"
        "print('end \\u00b5')\n"
        "sys.stdout.flush()\n"
        "time.sleep(60)\n"
    )
    client.put("QUEUE:REMOVE", "all")
    (job_id,) = client.add({"script": script})
    client.put("QUEUE:HOLD", 0)
    wait_until(lambda: b"end" in raw_bytes(client, "CURRENT:OUTPUT"), timeout=30)
    output = raw_bytes(client, "CURRENT:OUTPUT")
    assert output.isascii() and len(output) <= 16_384, len(output)
    assert output.rstrip().endswith(b"end \\xb5"), output[-40:]
    client.put("ABORT", 2)
    wait_until(lambda: client.get("LAST:ID") == job_id, timeout=30)


def severity(client, name):
    meta = client.pv(name).get_with_metadata(form="time", use_monitor=False, as_numpy=True)
    return meta["severity"], meta["status"]


def test_GIVEN_refused_enum_write_WHEN_other_settings_change_THEN_write_alarm_kept(client):
    """Before: republishing the unchanged QUEUE:HOLD cleared its WRITE/INVALID alarm."""
    client.pv("QUEUE:HOLD").put(7, wait=True, timeout=5)
    assert severity(client, "QUEUE:HOLD") == (3, 2)
    assert client.put("QUEUE:ON_ERROR", 1)["ok"]  # republishes the settings group
    assert client.put("QUEUE:ON_ERROR", 0)["ok"]
    client.add("set_ei(25)")
    assert severity(client, "QUEUE:HOLD") == (3, 2)
    assert client.put("QUEUE:HOLD", 1)["ok"]  # an accepted write clears it
    assert severity(client, "QUEUE:HOLD") == (0, 0)


@pytest.mark.parametrize("left_result", [True, False])
def test_GIVEN_ioc_died_between_launch_and_started_WHEN_restarted_THEN_result_or_not_run(
    start_ioc, left_result
):
    """Before: such a job was always INTERRUPTED, though it may have run to the end."""
    from scriptserver_ioc.client.client import ScriptServerClient

    ioc = start_ioc()
    client = ScriptServerClient(ioc.prefix)
    client.put("QUEUE:HOLD", 1)
    (job_id,) = client.add({"script": "print('ran')"})
    ioc.stop()
    database = ioc.data_dir / "scriptserver.sqlite"
    with sqlite3.connect(database) as conn:  # as the server leaves it at the launch
        (record,) = conn.execute("SELECT record FROM jobs WHERE id=?", (job_id,)).fetchone()
        running = {**json.loads(record), "state": "RUNNING", "started": "2026-12-01T08:00:00+00:00"}
        conn.execute(
            "UPDATE jobs SET record=?, state='RUNNING', position=NULL, handle=? WHERE id=?",
            # a result left: the row as the old server left it (no handle); none: as now
            (json.dumps(running), None if left_result else json.dumps({"launched": 1}), job_id),
        )
    if left_result:
        result = {"job_id": job_id, "state": "DONE", "error": None, "exit_code": 0}
        (ioc.data_dir / "logs" / f"job-{job_id}.log.result.json").write_text(json.dumps(result))

    ioc.start(new_prefix=True)

    client = ScriptServerClient(ioc.prefix)
    wait_until(lambda: client.get("LAST:ID") == job_id, timeout=15)
    last = client.get_json("HISTORY")[0]
    if left_result:
        assert last["state"] == "DONE", last
    else:
        assert last["state"] == "INTERRUPTED", last  # no launch handle: `run` never sent
        assert "no launch handle" in last["error"]["message"], last
