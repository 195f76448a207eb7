"""Channel Access plumbing of the client: text encoding, enum values, replies, PV reads.

JSON and text PVs are read raw (bytes up to the NUL) and written as UTF-8 bytes with a
terminating NUL, which is safe for any text (pyepics' own string handling is Latin-1 and
drops non-ASCII). Standard library, numpy, pyepics and the contract (`contract/`) only:
nothing of the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

try:  # optional (the `fast` extra): decodes a 1,000-job QUEUE twice as fast
    import orjson
except ImportError:  # the standard `json` module reads them all the same
    orjson = None

from ..contract.pvtable import ENUMS, char_pv
from ..contract.reply import Reply


class ClientError(RuntimeError):
    """The server did not answer, or rejected a write."""


class Refused(ClientError):
    """The server rejected a control write; `reply` is its REPLY entry."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.message)
        self.reply = reply


class AddedJobs(list):
    """The new job ids of an add (a list of int) with the server's `reply`."""

    def __init__(self, ids: list[int], reply: Reply) -> None:
        super().__init__(ids)
        self.reply = reply


class EnumValue(int):
    """The value of an enum PV: its index (an int) that also knows its name.

    `value == 3` and `value == "PAUSED"` are both true for a paused `STATE`; `str(value)`
    is the name.
    """

    name: str

    def __new__(cls, index: int, names: tuple[str, ...]) -> EnumValue:
        """The value `index` of an enum with strings `names`."""
        value = super().__new__(cls, index)
        value.name = names[index] if 0 <= index < len(names) else str(index)
        return value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.name == other
        return int(self) == other

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = int.__hash__

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<{self.name}: {int(self)}>"


def encode_text(text: str) -> np.ndarray:
    """UTF-8 bytes with a NUL, as a uint8 array for a char waveform put."""
    return np.frombuffer(text.encode("utf-8") + b"\0", dtype=np.uint8)


def raw_bytes(raw: Any) -> memoryview:
    """The bytes of a char waveform read as raw values, up to its NUL (one copy at most)."""
    if raw is None:
        raise ClientError("no value (is the server running and reachable?)")
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    data = raw if isinstance(raw, bytes) else np.asarray(raw, dtype=np.uint8).tobytes()
    end = data.find(b"\0")
    return memoryview(data)[: len(data) if end < 0 else end]


def decode_text(raw: Any) -> str:
    """Text of a char waveform read as raw values."""
    if isinstance(raw, str):
        return raw
    return str(raw_bytes(raw), "utf-8", "replace")


def decode_json(raw: Any) -> Any:
    """The value of a JSON PV read as raw values.

    With orjson installed (the `fast` extra) a 1,000-job `QUEUE` decodes in half the time
    (10,000 jobs: about 15 % less, most of it is making the objects); JSON it refuses (NaN,
    integers beyond 64 bits) is read by the `json` module.
    """
    data = raw_bytes(raw)
    if orjson is not None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(str(data, "utf-8", "replace"))


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to the null device for the duration.

    libca starts the CA repeater by forking a child that `exec`s `caRepeater`; where EPICS
    base is not installed the child prints four `**** ... couldn't be located` lines to the
    inherited stderr. The fork happens while the first channel is created, so creating it
    inside this block gives the child a silent stderr. The client works without a repeater.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


FIRST_CONNECT_TIMEOUT = 2.0
"""Seconds to wait for the first channel of a server before saying it is not there."""


def not_reached(name: str, waited: float) -> str:
    """Why nothing answered for `name`: the prefix and the addresses searched, what to do."""
    prefix = name.rsplit(":", 1)[0] + ":" if ":" in name else name
    auto = os.environ.get("EPICS_CA_AUTO_ADDR_LIST", "YES")
    addresses = os.environ.get("EPICS_CA_ADDR_LIST", "").strip()
    searched = f"EPICS_CA_ADDR_LIST={addresses or '(not set)'}, EPICS_CA_AUTO_ADDR_LIST={auto}"
    port = os.environ.get("EPICS_CA_SERVER_PORT")
    if port:
        searched += f", EPICS_CA_SERVER_PORT={port}"
    return (
        f"no script server answered at prefix {prefix!r} ({name}) within {waited:g} s "
        f"(searched {searched}). "
        "Is the IOC running? Its ready line names its prefix and the EPICS_CA_ADDR_LIST to "
        "use; choose the server with --prefix or SCRIPTSERVER_PREFIX"
    )


class Channels:
    """Reads and writes PVs of one server by name relative to its prefix.

    Args:
        prefix: the server's PV prefix, e.g. "IN:LARMOR:CS:SCRIPTSERVER:".
        timeout: seconds to wait for connections and puts.
    """

    def __init__(self, prefix: str, timeout: float = 5.0) -> None:
        import epics

        self._epics = epics
        self.prefix = prefix
        self.timeout = timeout
        self._pvs: dict[str, Any] = {}
        self._reached = False

    def pv(self, name: str) -> Any:
        """The pyepics PV object for a name relative to the prefix (cached)."""
        if name not in self._pvs:
            with quiet_stderr():
                self._pvs[name] = self._epics.PV(self.prefix + name, auto_monitor=not char_pv(name))
        pv = self._pvs[name]
        # a server answers a search on its network in milliseconds: the first channel does
        # not wait the whole timeout to find out that none is there
        wait = self.timeout if self._reached else min(self.timeout, FIRST_CONNECT_TIMEOUT)
        if not pv.wait_for_connection(wait):
            if self._reached:
                raise ClientError(f"cannot connect to {self.prefix}{name}")
            raise ClientError(not_reached(self.prefix + name, wait))
        self._reached = True
        return pv

    def get(self, name: str) -> Any:
        """The value of a scalar PV; enum PVs give an `EnumValue` (an int with a name)."""
        value = self.pv(name).get(timeout=self.timeout, use_monitor=False)
        if value is None:
            raise ClientError(f"no value from {self.prefix}{name}")
        if name in ENUMS:
            return EnumValue(int(value), ENUMS[name])
        return value

    def get_text(self, name: str) -> str:
        """The text of a char PV."""
        pv = self.pv(name)
        return decode_text(pv.get(timeout=self.timeout, use_monitor=False, as_numpy=True))

    def get_json(self, name: str) -> Any:
        """The value of a JSON PV."""
        pv = self.pv(name)
        return decode_json(pv.get(timeout=self.timeout, use_monitor=False, as_numpy=True))

    def put(self, name: str, value: Any, wait: bool = True) -> dict[str, Any] | None:
        """Write a PV; with `wait`, return the newest REPLY entry for it (maybe not this write's).

        Text is sent as UTF-8 bytes; dicts and lists as JSON. The typed methods of
        `ScriptServerClient` match the reply to the write; use them unless testing the wire.
        """
        self._write(name, value, wait)
        return self.reply_for(name) if wait else None

    def _write(self, name: str, value: Any, wait: bool = True, timeout: float | None = None):
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        data = encode_text(value) if isinstance(value, str) and char_pv(name) else value
        status = self.pv(name).put(data, wait=wait, timeout=timeout or self.timeout)
        if wait and status != 1:
            raise ClientError(f"put to {self.prefix}{name} did not complete")

    def replies(self) -> list[dict[str, Any]]:
        """The REPLY entries, newest first."""
        return self.get_json("REPLY")

    def reply_for(self, name: str, request_id: str | None = None) -> dict[str, Any] | None:
        """The newest REPLY entry for PV `name` (and `request_id` if given)."""
        for entry in self.replies():
            if entry["pv"] == name and (request_id is None or entry["request_id"] == request_id):
                return entry
        return None

    def wait_for(
        self, condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02
    ) -> Any:
        """Wait until `condition()` is truthy and return it, or raise after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise ClientError(f"condition not met within {timeout} s")
            time.sleep(interval)
