"""The nearest known name for a name a script reads but defines nowhere (a typo hint).

A script that says ``set_temprature(5)`` gets ``did you mean 'set_temperature'?``; one that
calls ``waitfor_uamp(40)`` without genie gets ``did you mean genie's 'g.waitfor_uamps'?``
(genie_python is used as ``from genie_python import genie as g``). Only names close enough
to be a typo are suggested; nothing is suggested otherwise.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

GENIE_NAMES = frozenset(
    """abort begin cget change change_beamline_par change_finish change_monitor
    change_number_soft_periods change_period change_rb change_sample_par change_script_dir
    change_start change_sync change_tables change_tcb change_title change_users change_vetos
    check_alarms check_limit_violations cset cshow define_hard_period enable_hard_periods
    enable_soft_periods end get_beamline_pars get_block_units get_blocks get_dashboard
    get_events get_frames get_mevents get_number_periods get_number_spectra
    get_number_timechannels get_period get_pv get_raw_frames get_rb get_runnumber
    get_runstate get_sample_pars get_script_dir get_spectrum get_spectrum_integrals
    get_time_since_begin get_title get_totalcounts get_uamps get_users integrate_spectrum
    load load_script pause plot_spectrum recover resume send_alert send_email set_pv
    snapshot_crpt store update updatestore waitfor waitfor_block waitfor_frames
    waitfor_mevents waitfor_move waitfor_raw_frames waitfor_runstate waitfor_time
    waitfor_uamps""".split()
)
"""Public functions of genie_python's ``genie`` module (26.x) that scripts call as ``g.<name>``."""

CUTOFF = 0.75
"""How alike (difflib's ratio) a known name must be to be offered."""


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name close enough to ``name`` to be its typo, or None."""
    match = difflib.get_close_matches(name, set(known), n=1, cutoff=CUTOFF)
    return match[0] if match else None


def nearest_name(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known or genie name, or '' if none is close."""
    names = set(known)
    match = closest(name, names | GENIE_NAMES)
    if match is None:
        return ""
    if match in names:
        return f" (did you mean {match!r}?)"
    return f" (did you mean genie's 'g.{match}'?)"
