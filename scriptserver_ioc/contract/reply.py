"""`Reply`: the outcome of one control write, an entry of the `REPLY` PV."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reply:
    """The server's answer to one control write, as published in `REPLY`.

    Attributes:
        seq: +1 per reply of this server.
        pv: the control PV written (without prefix).
        ok: True if the write was accepted.
        message: what was done, or what was wrong and what is expected.
        request_id: the writer's `request_id`, echoed; None if it gave none.
        job_ids: the jobs the write created or acted on.
    """

    seq: int
    pv: str
    ok: bool
    message: str
    request_id: str | None = None
    job_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The reply as the JSON object of the contract."""
        return {
            "seq": self.seq,
            "pv": self.pv,
            "request_id": self.request_id,
            "ok": self.ok,
            "message": self.message,
            "job_ids": self.job_ids,
        }

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Reply:
        """A reply from its JSON object (an entry of `REPLY`)."""
        return cls(
            seq=entry["seq"],
            pv=entry["pv"],
            ok=entry["ok"],
            message=entry["message"],
            request_id=entry.get("request_id"),
            job_ids=list(entry.get("job_ids") or []),
        )
