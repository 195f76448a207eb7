"""A Python client of the script server over Channel Access (pyepics).

Used by the `scriptserver` console tool and by the system tests. JSON PVs are read raw (as
bytes up to the NUL) and written as UTF-8 bytes with a terminating NUL, which is safe for
any text (pyepics' own string handling is Latin-1 and drops non-ASCII).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from ..ioc.pvtable import BY_NAME


class ClientError(RuntimeError):
    """The server did not answer, or rejected a write."""


def encode_text(text: str) -> np.ndarray:
    """UTF-8 bytes with a NUL, as a uint8 array for a char waveform put."""
    return np.frombuffer(text.encode("utf-8") + b"\0", dtype=np.uint8)


def decode_text(raw: Any) -> str:
    """Text of a char waveform read as raw values."""
    if raw is None:
        raise ClientError("no value (is the server running and reachable?)")
    if isinstance(raw, str):
        return raw
    data = bytes(np.asarray(raw, dtype=np.uint8)) if not isinstance(raw, bytes) else raw
    return data.split(b"\0", 1)[0].decode("utf-8", "replace")


class ScriptServerClient:
    """Talks to one script server.

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

    def pv(self, name: str) -> Any:
        """The pyepics PV object for a name relative to the prefix (cached)."""
        if name not in self._pvs:
            count = BY_NAME[name].count if name in BY_NAME else 1
            self._pvs[name] = self._epics.PV(self.prefix + name, auto_monitor=count < 65536)
        pv = self._pvs[name]
        if not pv.wait_for_connection(self.timeout):
            raise ClientError(f"cannot connect to {self.prefix}{name}")
        return pv

    def get(self, name: str) -> Any:
        """The value of a scalar PV (enums as their index)."""
        value = self.pv(name).get(timeout=self.timeout, use_monitor=False)
        if value is None:
            raise ClientError(f"no value from {self.prefix}{name}")
        return value

    def get_text(self, name: str) -> str:
        """The text of a char PV."""
        pv = self.pv(name)
        return decode_text(pv.get(timeout=self.timeout, use_monitor=False, as_numpy=True))

    def get_json(self, name: str) -> Any:
        """The value of a JSON PV."""
        return json.loads(self.get_text(name))

    def put(self, name: str, value: Any, wait: bool = True) -> dict[str, Any] | None:
        """Write a control PV; with `wait`, return this write's REPLY entry.

        Text is sent as UTF-8 bytes; dicts and lists as JSON. The reply is found by the
        request id when the value carries one, else as the newest reply for this PV.
        """
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        pv = self.pv(name)
        data = encode_text(value) if isinstance(value, str) else value
        status = pv.put(data, wait=wait, timeout=self.timeout)
        if wait and status != 1:
            raise ClientError(f"put to {self.prefix}{name} did not complete")
        return self.reply_for(name) if wait else None

    def reply_for(self, name: str, request_id: str | None = None) -> dict[str, Any] | None:
        """The newest REPLY entry for PV `name` (and `request_id` if given)."""
        for entry in self.get_json("REPLY"):
            if entry["pv"] == name and (request_id is None or entry["request_id"] == request_id):
                return entry
        return None

    def request(self, name: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Write a JSON object with a fresh request id; return its reply (raise if rejected)."""
        request_id = obj.get("request_id") or uuid.uuid4().hex[:12]
        self.put(name, {**obj, "request_id": request_id})
        reply = self.reply_for(name, request_id)
        if reply is None:
            raise ClientError(f"no reply for request {request_id} on {name}")
        if not reply["ok"]:
            raise ClientError(reply["message"])
        return reply

    def add(self, spec: str | dict[str, Any] | list[dict[str, Any]]) -> list[int]:
        """Queue a job (call text, spec or batch); returns the new ids or raises."""
        reply = self.put("QUEUE:ADD", spec)
        if reply is None or not reply["ok"]:
            raise ClientError(reply["message"] if reply else "no reply")
        return reply["job_ids"]

    def queue(self) -> list[dict[str, Any]]:
        """The queued job records in run order."""
        return self.get_json("QUEUE")

    def wait_for(
        self, condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02
    ) -> None:
        """Wait until `condition()` is true, or raise ClientError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise ClientError(f"condition not met within {timeout} s")
            time.sleep(interval)
