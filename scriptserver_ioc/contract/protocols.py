"""The job-channel and checker protocols, as the server imports them.

Their home is `job/_protocol.py` (job channel message types, framing, the hello check) and
`job/_checker_protocol.py` (the companion checker's operations): job processes and the
checker import those modules by file name, without this package, so the constants cannot
live here. The server's side (`runner/`, `validate/`, `catalogue/live.py`) imports them
through this module, so both ends share one definition.
"""

from __future__ import annotations

from ..job import _checker_protocol as checker
from ..job import _protocol as job_channel

__all__ = ["checker", "job_channel"]
