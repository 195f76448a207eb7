"""Interception for dry runs: virtual time and Channel Access writes that are not sent.

Runs inside the dry-run process (``simulate.py``): standard library only, Python 3.8+.

- ``time.sleep`` (main thread, over ``SMALL_SLEEP`` s), ``time.time``/``time.monotonic``
  (and their ``_ns`` forms) and ``datetime.datetime.now``/``utcnow``/``today`` follow the
  virtual clock: real elapsed time plus the time skipped by sleeps and estimates.
- Channel Access (and PV Access) writes are recorded, never sent: pyepics (``epics.caput``,
  ``caput_many``, ``PV.put``, ``ca.put``), caproto (``threading.client.PV.write``,
  ``Batch.write``, ``sync.client.write``, ``asyncio.client.PV.write``, ``pyepics_compat``
  ``caput``/``PV.put``), genie_python's CA and p4p wrappers and ``p4p.client.thread.Context.put``.
  Each module is patched as soon as it is imported (``import_hooks``), whoever imports it.
- genie_python runs on its own simulated API (``GENIE_SIMULATE=1``, non-strict blocks,
  exceptions raised), made to behave like an instrument by ``sim_genie`` (timed waits and
  waits on beam advance the virtual clock; ``cset``/``set_pv`` are recorded as writes).
"""

from __future__ import annotations

import datetime as _datetime
import functools
import os
import sys
import threading
import time

import import_hooks
import sim_genie

SMALL_SLEEP = 0.01
"""Sleeps up to this long really sleep (polling loops in libraries); longer ones are skipped."""


def install(sim):
    """Install every interception; ``sim`` gives ``clock``, ``write()`` and ``step()``."""
    _patch_time(sim)
    os.environ["GENIE_SIMULATE"] = "1"
    patcher = _Patcher(sim)
    import_hooks.hook_imports({name: functools.partial(patcher.patch, name) for name in _PATCHERS})
    for name in list(_PATCHERS):
        module = sys.modules.get(name)
        if module is not None:
            patcher.patch(name, module)


# -- time ------------------------------------------------------------------------------


def _patch_time(sim):
    clock = sim.clock
    real_sleep = clock.real_sleep
    main = threading.main_thread()

    def sleep(seconds):
        if seconds is None or seconds < 0:
            return real_sleep(seconds)  # the real error message
        if seconds <= SMALL_SLEEP or threading.current_thread() is not main:
            return real_sleep(seconds)
        sim.step(f"sleep {seconds:g} s")
        clock.advance(seconds)
        sim.check_stop()
        return None

    time.sleep = sleep
    time.time = lambda: clock.real_time() + clock.offset
    time.monotonic = lambda: clock.real_monotonic() + clock.offset
    time.time_ns = lambda: int((clock.real_time() + clock.offset) * 1e9)
    time.monotonic_ns = lambda: int((clock.real_monotonic() + clock.offset) * 1e9)
    _datetime.datetime = _virtual_datetime(clock)


def _virtual_datetime(clock):
    base = _datetime.datetime

    class datetime(base):  # noqa: N801 - stands in for datetime.datetime
        """``datetime.datetime`` whose now/utcnow/today follow the dry run's virtual clock."""

        @classmethod
        def now(cls, tz=None):
            return base.now(tz) + _datetime.timedelta(seconds=clock.offset)

        @classmethod
        def utcnow(cls):
            return base.utcnow() + _datetime.timedelta(seconds=clock.offset)

        @classmethod
        def today(cls):
            return cls.now()

    datetime.__module__ = "datetime"
    return datetime


# -- patching on import ----------------------------------------------------------------


class _Patcher:
    """Patches each intercepted module once; a failure is a note of the dry run."""

    def __init__(self, sim):
        self.sim = sim
        self.patched = set()

    def patch(self, name, module):
        if name in self.patched:
            return
        self.patched.add(name)
        try:
            _PATCHERS[name](self.sim, module)
        except Exception as exc:  # noqa: BLE001 - a changed library must not break dry runs
            sim_note = f"could not intercept {name}: {type(exc).__name__}: {exc}"
            self.sim.note(sim_note)


def _recorder(sim, via, name_of, value_of, result=None):
    """A replacement for a write function: records ``(pv, value)`` and returns ``result``."""

    def intercepted(*args, **kwargs):
        sim.write(name_of(args, kwargs), value_of(args, kwargs), via)
        return result

    return intercepted


def _arg(index, keyword):
    def get(args, kwargs):
        if len(args) > index:
            return args[index]
        return kwargs.get(keyword)

    return get


def _pv_attribute(*names):
    def get(args, kwargs):
        obj = args[0]
        for name in names:
            value = getattr(obj, name, None)
            if value:
                return value
        return repr(obj)

    return get


# -- pyepics ---------------------------------------------------------------------------


def _patch_epics(sim, module):
    module.caput = _recorder(sim, "pyepics caput", _arg(0, "pvname"), _arg(1, "value"), 1)

    def caput_many(pvlist, values, *args, **kwargs):
        for pv, value in zip(pvlist, values):
            sim.write(pv, value, "pyepics caput_many")
        return [1] * len(pvlist)

    module.caput_many = caput_many


def _patch_epics_pv(sim, module):
    module.PV.put = _recorder(sim, "pyepics PV.put", _pv_attribute("pvname"), _arg(1, "value"), 1)


def _patch_epics_ca(sim, module):
    def chid_name(args, kwargs):
        chid = args[0] if args else kwargs.get("chid")
        try:
            return module.name(chid)
        except Exception:  # noqa: BLE001
            return f"chid {chid!r}"

    module.put = _recorder(sim, "pyepics ca.put", chid_name, _arg(1, "value"), 1)


# -- caproto ---------------------------------------------------------------------------


def _patch_caproto_threading(sim, module):
    module.PV.write = _recorder(sim, "caproto PV.write", _pv_attribute("name"), _arg(1, "data"))

    def batch_write(self, pv, data, *args, **kwargs):
        sim.write(getattr(pv, "name", repr(pv)), data, "caproto Batch.write")

    module.Batch.write = batch_write


def _patch_caproto_sync(sim, module):
    module.write = _recorder(sim, "caproto sync write", _arg(0, "pv_name"), _arg(1, "data"))


def _patch_caproto_asyncio(sim, module):
    async def write(self, data, *args, **kwargs):
        sim.write(getattr(self, "name", repr(self)), data, "caproto asyncio PV.write")

    module.PV.write = write


def _patch_caproto_compat(sim, module):
    module.caput = _recorder(sim, "caproto caput", _arg(0, "pvname"), _arg(1, "value"), 1)
    module.PV.put = _recorder(sim, "caproto PV.put", _pv_attribute("pvname"), _arg(1, "value"))


# -- genie_python and p4p --------------------------------------------------------------


def _patch_genie_wrapper(sim, module):
    for cls_name in ("CaChannelWrapper", "P4PWrapper"):
        cls = getattr(module, cls_name, None)
        if cls is not None and hasattr(cls, "set_pv_value"):
            via = "genie " + cls_name + ".set_pv_value"
            cls.set_pv_value = staticmethod(_recorder(sim, via, _arg(0, "name"), _arg(1, "value")))


def _patch_p4p(sim, module):
    def put(self, name, values, *args, **kwargs):
        if isinstance(name, (list, tuple)):
            for one, value in zip(name, values):
                sim.write(one, value, "p4p Context.put")
            return [None] * len(name)
        sim.write(name, values, "p4p Context.put")
        return None

    module.Context.put = put


_PATCHERS = {
    "epics": _patch_epics,
    "epics.pv": _patch_epics_pv,
    "epics.ca": _patch_epics_ca,
    "caproto.threading.client": _patch_caproto_threading,
    "caproto.sync.client": _patch_caproto_sync,
    "caproto.asyncio.client": _patch_caproto_asyncio,
    "caproto.threading.pyepics_compat": _patch_caproto_compat,
    "genie_python.genie_api_setup": sim_genie.patch_setup,
    "genie_python.genie_simulate_impl": sim_genie.patch_simulation,
    "genie_python.genie_cachannel_wrapper": _patch_genie_wrapper,
    "genie_python.genie_p4p_wrapper": _patch_genie_wrapper,
    "p4p.client.thread": _patch_p4p,
}
