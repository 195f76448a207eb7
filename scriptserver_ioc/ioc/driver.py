"""The pcaspy Driver: decodes control writes, calls the core, answers reads.

Runs in the server thread (the one calling `SimpleServer.process`). `write()` never waits
on slow work: it decodes, lets the core decide (in memory plus one SQLite commit),
publishes the small PVs and the reply, and returns. Writes to PVs marked `asyn` in the PV
table (those needing companion checks, a catalogue reparse or a dry run) are decided on the
core's worker; their put with callback completes once the decision is published.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pcaspy
import pcaspy.driver
from pcaspy.alarm import Alarm, Severity

from ..contract import pvtable
from ..contract.pvmodel import PV, check_control_handlers
from ..core.specs import Rejected, request_id_of
from . import writes
from .encoding import decode_write
from .publisher import Publisher
from .writes import CONTROL_HANDLERS

check_control_handlers(pvtable.ALL_PVS, CONTROL_HANDLERS)

log = logging.getLogger(__name__)

_client = threading.local()


def _install_client_capture() -> None:
    """Make the writing client's user and host known to `Driver.write`.

    pcaspy passes them to `SimplePV.writeValue` only; the driver API has no place for them.
    """
    original = pcaspy.driver.SimplePV.writeValue
    if getattr(original, "_captures_client", False):
        return

    def write_value(self: Any, client: Any, gdd_value: Any) -> Any:
        _client.who = f"{getattr(client, 'user', '?')}@{getattr(client, 'host', '?')}"
        try:
            return original(self, client, gdd_value)
        finally:
            _client.who = ""

    write_value._captures_client = True  # type: ignore[attr-defined]
    pcaspy.driver.SimplePV.writeValue = write_value
    # pcaspy logs every write with the whole value twice; keep it quiet
    logging.getLogger("pcaspy.SimplePV.writeValue").setLevel(logging.ERROR)


class ScriptServerDriver(pcaspy.Driver):
    """pcaspy Driver of the script server.

    Args:
        core: the `core.ScriptServer`.
        kick: called after PVs were updated from a thread other than the server's.
    """

    def __init__(self, core: Any, kick: Any) -> None:
        super().__init__()
        _install_client_capture()
        self.core = core
        self.lock = threading.RLock()
        self.publisher = Publisher(self, core, self.lock, kick)
        core.add_listener(self.publisher.changed)

    def close(self) -> None:
        """Stop publishing (the IOC is shutting down)."""
        self.publisher.stop()

    def read(self, reason: str) -> Any:
        """Answer a read; a large PV with a pending update is built first."""
        self.publisher.flush_for_read(reason)
        return self.getParam(reason)

    def write(self, reason: str, value: Any) -> bool:
        """Apply a control write; False rejects it (WRITE alarm, INVALID severity)."""
        pv = pvtable.BY_NAME.get(reason)
        if pv is None or not pv.control:
            return False
        client = getattr(_client, "who", "")
        try:
            decoded = self._decode(pv, value)
        except Rejected as exc:
            request_id = request_id_of(value) if isinstance(value, str) else None
            self.core.record_rejection(reason, str(exc), client, request_id)
            return False
        if pv.asyn:
            # decided later (slow checks run on the core's worker): the put with callback
            # completes when `finish` runs; a refusal sets the WRITE alarm there
            def finish(reply: Any) -> None:
                if threading.get_ident() == self.publisher.server_thread:
                    self._complete(pv, decoded, reply)  # decided at once
                else:
                    self.publisher.call_soon(lambda: self._complete(pv, decoded, reply))

            self._call_core(reason, decoded, client, finish)
            return True
        reply = self._call_core(reason, decoded, client, None)
        if reply is not None and reply.ok:
            self._accept(pv, decoded)
        return reply is not None and reply.ok

    def _call_core(self, reason: str, decoded: Any, client: str, on_done: Any) -> Any:
        """The write's core call (`writes.control`); a defect is refused, logged, completed."""
        try:
            return writes.control(self.core, reason, decoded, client, on_done)
        except Exception as exc:  # a defect: still one reply, and the server goes on
            log.exception("%s: internal error", reason)
            reply = self.core.record_rejection(
                reason,
                f"internal error ({type(exc).__name__}), nothing was changed; see the server log",
                client,
                request_id_of(decoded),
            )
            if on_done is not None:
                on_done(reply)
            return reply

    def _complete(self, pv: PV, decoded: Any, reply: Any) -> None:
        """Finish an asynchronous write (publishing thread): its PV, then the put callback."""
        if reply.ok:
            self._accept(pv, decoded)
        else:
            with self.lock:
                self.setParamStatus(pv.name, Alarm.WRITE_ALARM, Severity.INVALID_ALARM)
                self.updatePV(pv.name)
        self.callbackPV(pv.name)

    def _decode(self, pv: PV, value: Any) -> Any:
        if pv.type == "char":
            return decode_write(value, pv.count)
        if isinstance(value, (list, tuple)):
            value = value[0] if len(value) == 1 else value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            stripped = value.strip()
            if pv.enums and stripped in pv.enums:
                return pv.enums.index(stripped)
            if stripped.lstrip("-").isascii() and stripped.lstrip("-").isdigit():
                return int(stripped)
        if isinstance(value, bool) or not isinstance(value, int):
            choices = f" or one of {', '.join(pv.enums)}" if pv.enums else ""
            raise Rejected(f"expected an integer{choices}, got {value!r:.40}")
        return value

    def _accept(self, pv: PV, decoded: Any) -> None:
        with self.lock:
            if pv.type == "char":
                self.setParam(pv.name, [0])
            elif pv.idle is not None:  # an action PV reads back as idle once processed
                self.setParam(pv.name, pv.idle)
            else:
                self.setParam(pv.name, decoded)
            self.setParamStatus(pv.name, Alarm.NO_ALARM, Severity.NO_ALARM)
            self.updatePV(pv.name)
