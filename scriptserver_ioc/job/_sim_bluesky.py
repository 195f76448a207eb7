"""bluesky in dry runs: the RunEngine's sleeps on the virtual clock, no files, no publishing.

Runs inside the dry-run process (``simulate.py``): standard library only, Python 3.8+.
Nothing here imports bluesky: an import hook patches ``RunEngine`` the moment the job (or
its prelude, or a command) imports ``bluesky.run_engine``.

- ``Msg('sleep', None, t)`` (``bps.sleep``, the waits between points of most scans)
  advances the dry run's virtual clock by ``t`` at once and is a step of its timeline, so
  a 20 s scan is checked in well under a second and the estimate counts its waits. The
  RunEngine's event loop is on the virtual clock too (``_sim_loop``): the sleeps of its
  devices (an ophyd-async motor's motion, a detector's counting) skip ahead; timeouts
  keep counting real time.
- Document callbacks that write files or publish (``ibex_bluesky_core``'s document logger,
  Kafka, human-readable files, fit logs, PNG savers; see ``WRITERS``) are subscribed as
  callbacks that do nothing: a dry run leaves no unfinished run behind. Other callbacks
  (live tables, fits, the plan's own) run as they would.
"""

from __future__ import annotations

import sys

import _sim_loop
import import_hooks

RUN_ENGINE_MODULE = "bluesky.run_engine"
WRITERS = frozenset(
    {
        "DocLoggingCallback",
        "KafkaCallback",
        "HumanReadableFileCallback",
        "LiveFitLogger",
        "PlotPNGSaver",
        "Serializer",
    }
)
"""Class names of document callbacks that write files or publish (not run in dry runs)."""
_HOOKS = {}


def install(sim) -> None:
    """Patch the RunEngine of this dry run (``sim`` gives ``clock``, ``step``, ``note``)."""

    def hook(module):
        patch(module, sim)

    module = sys.modules.get(RUN_ENGINE_MODULE)
    if module is not None:
        patch(module, sim)
    else:
        _HOOKS[RUN_ENGINE_MODULE] = hook
        import_hooks.hook_imports(_HOOKS)


def patch(module, sim) -> None:
    """Virtual sleeps and inert writers for RunEngines made from now on (idempotent)."""
    engine_class = getattr(module, "RunEngine", None)
    if not isinstance(engine_class, type) or getattr(engine_class, "_scriptserver_dry", False):
        return
    import asyncio

    subscribe = engine_class.subscribe
    init = engine_class.__init__

    def init_in_dry_run(self, *args, **kwargs):
        init(self, *args, **kwargs)
        loop = getattr(self, "_loop", None)
        if loop is None or not _sim_loop.virtualise(loop, sim.clock):
            sim.note("the RunEngine's event loop waits in real time (not an asyncio loop)")

    async def _sleep(self, msg):
        seconds = float(msg.args[0]) if msg.args else 0.0
        sim.step(f"plan sleeps {seconds:g} s")
        sim.clock.advance(max(0.0, seconds))
        await asyncio.sleep(0)  # (no check_stop here: the dry run's watchdog ends it)

    def subscribe_in_dry_run(self, func, name="all"):
        writer = type(func).__name__
        if writer in WRITERS:
            sim.note(f"the dry run did not run {writer} (it writes files or publishes)")
            return subscribe(self, _inert, name)
        return subscribe(self, func, name)

    engine_class.__init__ = init_in_dry_run
    engine_class._sleep = _sleep
    engine_class.subscribe = subscribe_in_dry_run
    engine_class._scriptserver_dry = True


def _inert(name, doc) -> None:
    """A document callback that does nothing (stands in for a writer in dry runs)."""
