"""The one way unit tests build a core: `ScriptServer` with this machine's ports.

Tests give the core what the IOC gives it (`app.py`): the scripts folder and job logs
through `host.JobFolders`, timers on threads (`host.ThreadTimers`, or a clock the test
advances); the store, catalogue, validator and worker are the test's choice. A test
writes control PVs as a Channel Access client does: `core.control(pv, value, client,
on_done)` decodes the value at the edge (`ioc.writes.control`, what the IOC's driver
calls) into a call of the core's typed API.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from scriptserver_ioc.core.server import ScriptServer
from scriptserver_ioc.host import JobFolders, ThreadTimers
from scriptserver_ioc.ioc import writes


def make_core(
    store: Any,
    catalogue: Any,
    validator: Any,
    scripts_dir: Path | None = None,
    logs_dir: Path | None = None,
    timers: Any = None,
    **options: Any,
) -> ScriptServer:
    """A core over `store`, with the scripts folder `scripts_dir` and logs in `logs_dir`.

    Args:
        store: the store (`store.sqlite.Store`, or a test's fault-injecting one).
        catalogue: the command catalogue.
        validator: the checks.
        scripts_dir: where `file` jobs come from (None: they cannot run).
        logs_dir: where job logs are written.
        timers: the clock and timers (default: real ones, `host.ThreadTimers`; a test of
            time passing gives `manual_clock.ManualTimers` and advances it).
        options: further `ScriptServer` arguments (`worker`, `allow_scripts`, `files`: a
            test's own `JobFolders`, e.g. one that watches its callers).
    """
    options.setdefault("files", JobFolders(scripts_dir))
    core = ScriptServer(
        store,
        catalogue,
        validator,
        timers=timers or ThreadTimers(),
        logs_dir=logs_dir,
        **options,
    )
    core.control = functools.partial(writes.control, core)  # type: ignore[attr-defined]
    return core
