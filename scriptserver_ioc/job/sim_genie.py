"""genie_python in a dry run: an instrument that behaves, and a beam that takes time.

Runs inside the dry-run process (``simulate.py``): standard library only, Python 3.8+.
Patches genie_python's own simulated API (``genie_simulate_impl``, used with
``GENIE_SIMULATE=1``) when it is imported:

- timed waits (``waitfor_time``, ``waitfor(seconds=..)``) advance the virtual clock;
- waits on beam advance it by the beam model (``BeamModel``): ``waitfor_uamps(x)`` takes
  ``x / current`` hours, ``waitfor_frames(n)`` ``n / frame_rate`` seconds,
  ``waitfor_mevents(n)`` ``n / event_rate`` hours, counted from what the run has already
  collected; ``get_uamps``/``get_frames``/``get_mevents`` grow with the virtual time the run
  spends counting, so polling loops end too;
- ``begin(paused=True)`` leaves the run paused (then ``resume()`` works, as on the
  instrument);
- reading a block the script never set (``cget``) gives a plausible value (``SIMULATED_VALUE``)
  and a warning instead of a KeyError;
- ``cset`` and ``set_pv`` are recorded as writes, not sent.
"""

from __future__ import annotations

import functools
import inspect

SIMULATED_VALUE = 1.0
"""Value of a block the dry run never set (1.0 rather than 0: scripts divide by readings)."""

ISIS_DEFAULTS = {"current": 40.0, "frame_rate": 10.0, "event_rate": 100.0}
"""Beam current in µA, frame rate in Hz, event rate in Mevents per hour (ISIS TS2 figures:
40 µA at 10 Hz; TS1 runs at about 160 µA and 40 Hz)."""


class BeamModel:
    """The beam a dry run assumes, and how much of it the simulated run has counted.

    Args:
        options: ``{"current", "frame_rate", "event_rate"}`` (None or absent: ISIS defaults)
            and ``"current_pv"``/``"frame_rate_pv"``: PVs to read once, at dry-run time.
    """

    def __init__(self, options, sim):
        options = options or {}
        self.sim = sim
        self.used = {}
        self.values = {}
        for name, default in ISIS_DEFAULTS.items():
            value, source = options.get(name), options.get(name + "_source") or "option"
            if value is None:
                value, source = default, "ISIS default"
            pv = options.get(name + "_pv")
            if pv:
                live = _read_pv(pv)
                if isinstance(live, (int, float)) and live > 0:
                    value, source = float(live), "live PV " + pv
                else:
                    sim.note(f"cannot read {pv} ({live}); the {name} is the {source} {value:g}")
            self.values[name] = float(value)
            self.used[name] = {"value": float(value), "source": source}
        self.waited = {"uamps": 0.0, "frames": 0.0, "mevents": 0.0, "seconds": 0.0}
        self.counting_since = None
        self.counted = 0.0

    def record(self):
        """What the estimate used: values, where each came from, beam waits in all."""
        return dict(self.used, waited=dict(self.waited))

    # -- the run's counters ------------------------------------------------------------

    def begin(self, paused):
        """A run begins: counters from zero, counting unless paused."""
        self.counted = 0.0
        self.counting_since = None if paused else self.sim.clock.now()

    def pause(self):
        """Counting stops (run paused or ended)."""
        if self.counting_since is not None:
            self.counted += self.sim.clock.now() - self.counting_since
        self.counting_since = None

    def resume(self):
        """Counting goes on."""
        if self.counting_since is None:
            self.counting_since = self.sim.clock.now()

    def seconds_counted(self):
        """Virtual seconds of beam the current run has collected."""
        running = 0.0 if self.counting_since is None else self.sim.clock.now() - self.counting_since
        return self.counted + running

    def uamps(self):
        """µA·h collected."""
        return self.values["current"] * self.seconds_counted() / 3600.0

    def frames(self):
        """Good frames collected."""
        return int(self.values["frame_rate"] * self.seconds_counted())

    def mevents(self):
        """Millions of events collected."""
        return self.values["event_rate"] * self.seconds_counted() / 3600.0

    # -- waits ---------------------------------------------------------------------------

    def wait_seconds(self, uamps=None, frames=None, mevents=None, counted=True):
        """Virtual seconds until the run has counted what a wait asks for (0 if it has).

        With ``counted`` False the amounts are still to come in full (``scriptserver.beam_wait``
        of a command driving its own DAE): genie's run counters are not consulted.
        """
        needs = []
        if uamps is not None:
            self.waited["uamps"] += float(uamps)
            have = self.uamps() if counted else 0.0
            needs.append((float(uamps) - have) * 3600.0 / self.values["current"])
        if frames is not None:
            self.waited["frames"] += float(frames)
            have = self.frames() if counted else 0.0
            needs.append((float(frames) - have) / self.values["frame_rate"])
        if mevents is not None:
            self.waited["mevents"] += float(mevents)
            have = self.mevents() if counted else 0.0
            needs.append((float(mevents) - have) * 3600.0 / self.values["event_rate"])
        seconds = max([0.0] + needs)
        if seconds and counted and self.counting_since is None:
            self.sim.warn(
                f"line {self.sim.line}: waits on beam while no run is counting (begin() not "
                "called, or the run is paused); on the instrument this waits forever"
            )
        self.waited["seconds"] += seconds
        return seconds


def _read_pv(pv):
    """A live PV's value (pyepics, else caproto), or the reason it could not be read."""
    try:
        import epics

        value = epics.caget(pv, timeout=1.0)
        return value if value is not None else "no answer within 1 s"
    except ImportError:
        pass
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    try:
        from caproto.sync.client import read

        return read(pv, timeout=1.0).data[0]
    except ImportError:
        return "neither pyepics nor caproto is installed"
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"


# -- patches -----------------------------------------------------------------------------


def patch_setup(sim, module):
    """``genie_api_setup``: exceptions raised, blocks not strict."""
    module._exceptions_raised = True
    api = getattr(module, "__api", None)
    if api is not None and hasattr(api, "strict_block"):
        api.strict_block = False


def patch_simulation(sim, module):
    """``genie_simulate_impl``: waits, run states, beam counters, blocks, writes."""
    beam = sim.beam
    _patch_waits(sim, module, beam)
    dae = module.Dae
    begin = dae.begin_run

    @functools.wraps(begin)
    def begin_run(self, *args, **kwargs):
        paused = bool(_bound(begin, self, args, kwargs).get("paused"))
        result = begin(self, *args, **kwargs)
        beam.begin(paused)
        if paused:
            self.run_state = "PAUSED"
        return result

    dae.begin_run = begin_run
    for name, after in (("pause_run", beam.pause), ("end_run", beam.pause)):
        _after(dae, name, after)
    _after(dae, "resume_run", beam.resume)
    dae.get_uamps = lambda self, period=False: beam.uamps()
    dae.get_good_frames = lambda self, period=False: beam.frames()
    dae.get_raw_frames = lambda self, period=False: beam.frames()
    dae.get_mevents = lambda self: beam.mevents()
    _patch_blocks(sim, module)


def _patch_waits(sim, module, beam):
    waitfor = module.Waitfor.start_waiting

    @functools.wraps(waitfor)
    def start_waiting(self, *args, **kwargs):
        try:
            arguments = _bound(waitfor, self, args, kwargs)
            seconds = _timed_seconds(arguments)
            on_beam = beam.wait_seconds(
                arguments.get("uamps"),
                _first(arguments.get("frames"), arguments.get("raw_frames")),
                arguments.get("mevents"),
            )
        except (TypeError, ValueError):
            seconds, on_beam = 0.0, 0.0
        if seconds:
            sim.step(f"genie wait {seconds:g} s")
            sim.clock.advance(seconds)
        if on_beam:
            sim.step(f"genie wait on beam {on_beam:g} s (beam model)")
            sim.clock.advance(on_beam)
        sim.check_stop()
        return waitfor(self, *args, **kwargs)

    module.Waitfor.start_waiting = start_waiting


def _patch_blocks(sim, module):
    api = module.API
    set_block = api.set_block_value

    @functools.wraps(set_block)
    def set_block_value(self, name, value=None, *args, **kwargs):
        if value is not None:
            sim.write(name, value, "genie cset")
        return set_block(self, name, value, *args, **kwargs)

    api.set_block_value = set_block_value
    get_block = api.get_block_data

    @functools.wraps(get_block)
    def get_block_data(self, block, *args, **kwargs):
        if block not in self.block_dict:
            sim.warn(
                f"line {sim.line}: block {block!r} is read but the dry run never set it; "
                f"simulated value {SIMULATED_VALUE:g}"
            )
            self.block_dict[block] = {
                "value": SIMULATED_VALUE,
                "runcontrol": False,
                "lowlimit": None,
                "highlimit": None,
            }
        return get_block(self, block, *args, **kwargs)

    api.get_block_data = get_block_data
    api.set_pv_value = _recorder(sim)


def _recorder(sim):
    def set_pv_value(self, name, value, *args, **kwargs):
        sim.write(name, value, "genie set_pv")

    return set_pv_value


def _after(cls, name, hook):
    original = getattr(cls, name, None)
    if original is None:
        return

    @functools.wraps(original)
    def patched(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        hook()
        return result

    setattr(cls, name, patched)


def _bound(function, self, args, kwargs):
    try:
        return inspect.signature(function).bind(self, *args, **kwargs).arguments
    except (TypeError, ValueError):
        return {}


def _first(*values):
    return next((v for v in values if v is not None), None)


def _timed_seconds(kwargs):
    total = 0.0
    for key, scale in (("seconds", 1.0), ("minutes", 60.0), ("hours", 3600.0)):
        if kwargs.get(key) is not None:
            total += float(kwargs[key]) * scale
    text = kwargs.get("time")
    if isinstance(text, str) and text.count(":") == 2:
        hours, minutes, seconds = (float(part or 0) for part in text.split(":"))
        total += hours * 3600 + minutes * 60 + seconds
    return total
