"""Clients of the script server: `ScriptServerClient` (Python) and `scriptserver` (console).

Imports nothing of the server (no pcaspy): a console-only install needs pyepics, numpy
and rich.
"""

from .client import ClientError, EnumValue, Refused, Reply, ScriptServerClient

__all__ = ["ClientError", "EnumValue", "Refused", "Reply", "ScriptServerClient"]
