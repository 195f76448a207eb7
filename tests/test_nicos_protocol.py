"""The NICOS bridge's pure parts: framing, the rearrange rule, credentials, the message log."""

from __future__ import annotations

import json
import threading

import pytest

from scriptserver_ioc.nicos import protocol as p
from scriptserver_ioc.nicos.commands import CommandError, nicos_order
from scriptserver_ioc.nicos.credentials import Credentials, CredentialsError, hash_line
from scriptserver_ioc.nicos.messages import MessageLog


def test_GIVEN_req_frames_WHEN_decoded_THEN_command_args_and_reply_envelope():
    request = p.decode_request([b"id1", b"", b"queue", b"", b'["name", "print(1)"]'])
    assert (request.client, request.command, request.args) == (
        b"id1",
        "queue",
        ["name", "print(1)"],
    )
    assert p.ok_frames(request.envelope, "7") == [b"id1", b"", b"ok", b"", b'"7"']
    assert p.error_frames(request.envelope, "no") == [b"id1", b"", b"error", b"", b"no"]
    # NICOS sends "session expired" as a JSON string (zeromq.py)
    assert p.error_frames([b"x"], p.SESSION_EXPIRED, quoted=True)[-1] == b'"session expired"'


@pytest.mark.parametrize(
    "frames, words",
    [
        ([b"id", b"", b"getstatus"], "got 1 frames"),
        ([b"id", b"", b"getstatus", b"x", b"[]"], "got 3 frames"),
        ([b"id", b"", b"queue", b"", b"{"], "is not JSON"),
        ([b"id", b"", b"queue", b"", b'{"a": 1}'], p.INVALID_ARGUMENTS),
        ([b"id", b"", b"\xff", b"", b"[]"], "not text"),
        ([b"id", b"", b"get status", b"", b"[]"], "not a command name"),
        ([b"id", b"", b"queue", b"", b"[" * 50_000], "is not JSON"),
    ],
)
def test_GIVEN_bad_frames_WHEN_decoded_THEN_protocol_error_naming_the_fault(frames, words):
    with pytest.raises(p.ProtocolError, match=words):
        p.decode_request(frames)


def test_GIVEN_banner_THEN_what_the_gui_checks():
    banner = p.banner("x")
    assert banner["protocol_version"] == 23 and banner["serializer"] == "json"
    assert isinstance(banner["rsakey"], dict)
    assert json.loads(p.encode(banner)) == banner


@pytest.mark.parametrize(
    "client, queued, order",
    [
        (["b", "a", "c"], ["a", "b", "c"], ["b", "a", "c"]),
        (["x", "c", "a"], ["a", "b", "c"], None),  # b missing but not the newest
        (["x", "b", "a"], ["a", "b", "c"], ["b", "a", "c"]),  # x started, c is new
        (["b", "x"], ["a", "b"], None),  # a gone id must lead the list
        (["a", "a", "b"], ["a", "b"], ["a", "b"]),
        ([], ["a", "b"], ["a", "b"]),
    ],
)
def test_GIVEN_races_WHEN_rearranged_THEN_tolerated_as_nicos_does(client, queued, order):
    if order is None:
        with pytest.raises(CommandError, match="Inconsistency"):
            nicos_order(client, queued)
    else:
        assert nicos_order(client, queued) == order


def test_GIVEN_credentials_file_WHEN_checked_THEN_only_listed_passwords_pass(tmp_path):
    path = tmp_path / "creds.txt"
    path.write_text("# comment\n\n" + hash_line("ibex", "s3cret:é") + "\nguest:plain:pw\n")
    creds = Credentials.load(path)
    assert creds.check("ibex", "s3cret:é") and creds.check("guest", "pw")
    assert not creds.check("ibex", "s3cret") and not creds.check("nobody", "pw")
    assert not creds.check("guest", "pw ") and not creds.check("ibex", "\udcff")
    assert "s3cret" not in path.read_text()


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "lists no login"),
        ("ibex\n", "line 1"),
        ("ibex:md5:abc\n", "line 1"),
        ("ok:plain:x\nibex:sha256:1234\n", "line 2: a sha256 secret is 64 hex digits"),
    ],
)
def test_GIVEN_bad_credentials_file_WHEN_loaded_THEN_error_names_the_line(tmp_path, text, words):
    path = tmp_path / "creds.txt"
    path.write_text(text)
    with pytest.raises(CredentialsError, match=words):
        Credentials.load(path)
    with pytest.raises(CredentialsError, match="cannot read"):
        Credentials.load(tmp_path / "missing.txt")


def test_GIVEN_messages_from_threads_in_one_ms_WHEN_read_as_the_gui_THEN_none_dropped():
    log = MessageLog(kept=5_000)

    def writer(name: str) -> None:
        for i in range(1000):
            log.add(f"{name} {i}")

    threads = [threading.Thread(target=writer, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = json.loads(log.last(None))
    assert len(entries) == 4000
    # the GUI rounds each time to ms and keeps only entries newer than the last shown
    millis = [p.gui_millis(json.dumps(entry[1])) for entry in entries]
    assert all(a < b for a, b in zip(millis, millis[1:]))
    assert all(m == entry[1] * 1000 for m, entry in zip(millis, entries))  # whole ms
    assert all(len(entry) == 6 and entry[3].endswith("\n") for entry in entries)
    assert json.loads(log.last(3)) == entries[-3:]
    assert json.loads(log.last(0)) == [] and json.loads(log.last(-5)) == []
    log.add("x" * 10_000)
    assert len(json.loads(log.last(1))[0][3]) == 8193  # cut to 8192, plus the newline


def test_GIVEN_stamps_WHEN_rounded_as_java_THEN_half_up_and_whole_ms_exact():
    assert [p.gui_millis(x) for x in ("0.0005", "0.0015", "0.0025", "-0.0005")] == [1, 2, 3, 0]
    assert p.gui_millis(1.2344) == 1234 and p.gui_millis("1800000000.9996") == 1800000001000
    for millis in range(1_800_000_000_000, 1_800_000_000_000 + 20_000, 7):
        assert p.gui_millis(json.loads(json.dumps(millis / 1000))) == millis


def test_GIVEN_long_messages_WHEN_many_added_THEN_kept_bytes_bounded():
    log = MessageLog()
    for i in range(2_000):
        log.add(f"{i} " + "y" * 9_000)
    text = log.last(None)
    assert len(text) < 4_100_000
    entries = json.loads(text)
    assert entries[-1][3].startswith("1999 ") and len(entries) < 2_000


def test_GIVEN_credentials_tool_WHEN_run_THEN_prints_a_line_the_loader_accepts(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "scriptserver_ioc.nicos.credentials", "ibex"],
        input="typed password\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("ibex:sha256:") and "typed password" not in result.stdout
    (tmp_path / "creds.txt").write_text(line + "\n")
    assert Credentials.load(tmp_path / "creds.txt").check("ibex", "typed password")
    bad = subprocess.run(
        [sys.executable, "-m", "scriptserver_ioc.nicos.credentials", "a:b"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "usage" in bad.stderr
