"""Chopper commands of the demo instrument (a direct-geometry spectrometer)."""

from typing import Literal

from _beamline import load_state, message, progress, update_state, wait_with_pause_points

MIN_EI = 5.0
MAX_EI = 1000.0
SPIN_UP_SECONDS = 0.5
"""Demo time to phase the choppers (a real Fermi chopper takes minutes)."""


def set_ei(energy: float, wait: bool = True) -> None:
    """Positions the choppers to allow the specified incident energy through.

    Sets the Fermi chopper frequency and the disk chopper phases for the requested
    incident energy. With ``wait`` the command returns once the choppers are phased.

    Args:
        energy: incident energy in meV (5 to 1000).
        wait: wait for the choppers to reach speed and phase.

    Examples:
        >>> set_ei(25)
        >>> set_ei(energy=120.0, wait=False)
    """
    frequency = _fermi_frequency(energy)
    message(f"Setting Ei to {energy:g} meV (Fermi chopper {frequency:g} Hz)")
    if wait:
        steps = 5
        for step in range(steps):
            progress(100.0 * step / steps, f"phasing choppers for Ei = {energy:g} meV")
            wait_with_pause_points(SPIN_UP_SECONDS / steps)
    update_state(ei=float(energy), chopper_frequency=frequency)
    progress(100.0, f"Ei = {energy:g} meV")


def estimate_set_ei(energy: float, wait: bool = True) -> float:
    """Seconds ``set_ei`` takes: the chopper phasing time when waiting."""
    return SPIN_UP_SECONDS if wait else 0.1


def validate_set_ei(energy: float, wait: bool = True):
    """The energy must be in the range the choppers can deliver."""
    if not MIN_EI <= energy <= MAX_EI:
        return (
            f"energy {energy:g} meV is out of range: "
            f"the choppers deliver {MIN_EI:g} to {MAX_EI:g} meV"
        )
    return None


def set_chopper_frequency(
    frequency: float, chopper: Literal["fermi", "disk"] = "fermi", wait: bool = True
) -> None:
    """Sets one chopper's rotation frequency directly.

    Args:
        frequency: rotation frequency in Hz (0 to 600; 0 stops the chopper).
        chopper: which chopper: ``"fermi"`` or ``"disk"``.
        wait: wait until the chopper is at speed.
    """
    message(f"Setting the {chopper} chopper to {frequency:g} Hz")
    if wait:
        wait_with_pause_points(SPIN_UP_SECONDS)
    update_state(chopper_frequency=float(frequency))


def estimate_set_chopper_frequency(frequency, chopper="fermi", wait=True):
    return SPIN_UP_SECONDS if wait else 0.1


def validate_set_chopper_frequency(frequency, chopper="fermi", wait=True):
    if not 0 <= frequency <= 600:
        return f"frequency {frequency:g} Hz is out of range 0 to 600 Hz"
    return None


def get_ei():
    """Returns the incident energy the choppers are set for, in meV (None if never set).

    Returns:
        float: the incident energy in meV, or None.
    """
    return load_state()["ei"]


def _fermi_frequency(energy):
    """Fermi chopper frequency (Hz) for an incident energy (meV); a rough demo formula."""
    return round(min(600.0, 50.0 * (energy / 10.0) ** 0.5), 1)
