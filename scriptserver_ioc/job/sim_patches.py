"""Interception for dry runs: virtual time and Channel Access writes that are not sent.

Runs inside the dry-run process (``simulate.py``): standard library only, Python 3.8+.

- ``time.sleep`` (main thread, over ``SMALL_SLEEP`` s), ``time.time``/``time.monotonic``
  (and their ``_ns`` forms) and ``datetime.datetime.now``/``utcnow``/``today`` follow the
  virtual clock: real elapsed time plus the time skipped by sleeps and estimates.
- Channel Access (and PV Access) writes are recorded, never sent: pyepics (``epics.caput``,
  ``caput_many``, ``PV.put``, ``ca.put``), caproto (``threading.client.PV.write``,
  ``Batch.write``, ``sync.client.write``, the asyncio (and, where present, trio and curio)
  clients' ``PV.write``, ``pyepics_compat`` ``caput``/``PV.put``), aioca (``caput``, which
  ophyd-async's CA backend calls; below it epicscorelibs' ``ca_array_put``), p4p (every
  client's put goes through ``p4p.client.raw.Context.put``), pvapy (``pvaccess.Channel``'s
  ``put*`` methods), CaChannel, and genie_python's CA and p4p wrappers.
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
import sim_isolation

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

        # the C layout of datetime.datetime: compiled modules (pandas, h5py...) check its
        # size at import and warn "datetime.datetime size changed" if it grew a __dict__
        __slots__ = ()

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
    manager = getattr(module, "VirtualCircuitManager", None)
    if manager is not None and hasattr(manager, "_connect"):  # connects in a task of its own
        manager._connect = sim_isolation.ca_traffic(manager._connect)


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


class _Completed:
    """What a p4p raw operation returns: one that has already completed."""

    def cancel(self):
        return None

    def close(self):
        return None


def _patch_p4p_raw(sim, module):
    """Every p4p client (thread, asyncio, cothread, Qt) puts through ``raw.Context.put``."""

    def put(self, name, handler, builder=None, *args, **kwargs):
        value = builder if not callable(builder) else "<value built by a callable>"
        sim.write(name, value, "p4p Context.put")
        handler(None)  # success, as the server would answer
        return _Completed()

    module.Context.put = put


# -- aioca (and ophyd-async's CA backend), epicscorelibs, pvapy, CaChannel -------------------


def _patch_aioca(sim, module):
    """``aioca.caput``; ophyd-async's CA signals import it by name, after this patch."""
    nothing = getattr(module, "CANothing", None)

    async def caput(pv, value, *args, repeat_value=False, **kwargs):
        if isinstance(pv, (list, tuple)):
            many = isinstance(value, str) or repeat_value or not hasattr(value, "__len__")
            values = [value] * len(pv) if many else list(value)
            for one, item in zip(pv, values):
                sim.write(one, item, "aioca caput")
            return [nothing(one) if nothing else None for one in pv]
        sim.write(pv, value, "aioca caput")
        return nothing(pv) if nothing else None

    module.caput = caput


def _patch_aioca_package(sim, module):
    catools = sys.modules.get("aioca._catools")
    if catools is not None:
        module.caput = catools.caput


def _patch_cadef(sim, module):
    """The C calls under aioca (and whoever else uses epicscorelibs' ``cadef``)."""

    def put(via):
        def intercepted(dbrtype, count, channel, *args):
            try:
                name = module.ca_name(channel)
                name = name.decode() if isinstance(name, bytes) else name
            except Exception:  # noqa: BLE001
                name = f"channel {channel!r}"
            sim.write(name, f"<{count} value(s) of DBR type {dbrtype}>", via)
            return 1  # ECA_NORMAL

        return intercepted

    module.ca_array_put = put("epicscorelibs ca_array_put")
    module.ca_array_put_callback = put("epicscorelibs ca_array_put_callback")


def _patch_pvapy(sim, module):
    """pvapy: every ``put*`` of ``pvaccess.Channel`` (``put``, ``putInt``, ``asyncPut``...)."""
    channel = module.Channel
    for name in dir(channel):
        if name.startswith(("put", "asyncPut")) and callable(getattr(channel, name)):
            via = "pvapy Channel." + name

            def put(self, *args, _via=via, **kwargs):
                try:
                    pv = self.getName()
                except Exception:  # noqa: BLE001
                    pv = repr(self)
                sim.write(pv, args[0] if args else kwargs, _via)

            setattr(channel, name, put)


def _patch_cachannel(sim, module):
    """CaChannel (genie_python's CA library), for scripts that use it directly."""
    cls = getattr(module, "CaChannel", None)
    for name in ("array_put", "array_put_callback", "putw"):
        if cls is not None and hasattr(cls, name):
            via = "CaChannel." + name

            def put(self, value, *args, _via=via, **kwargs):
                pv = getattr(self, "pvname", None) or getattr(self, "_pvname", None) or repr(self)
                sim.write(pv, value, _via)

            setattr(cls, name, put)


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
    "p4p.client.raw": _patch_p4p_raw,
    "aioca._catools": _patch_aioca,
    "aioca": _patch_aioca_package,
    "epicscorelibs.ca.cadef": _patch_cadef,
    "caproto.trio.client": _patch_caproto_asyncio,
    "caproto.curio.client": _patch_caproto_asyncio,
    "pvaccess": _patch_pvapy,
    "CaChannel.CaChannel": _patch_cachannel,
}
