"""Sample environment commands of the demo instrument: temperature, field, sample changer."""

from enum import Enum
from typing import Optional

from _beamline import load_state, message, pause_point, progress, sleep, update_state

MIN_TEMPERATURE = 1.5
MAX_TEMPERATURE = 300.0
DEMO_RATE = 200.0
"""Demo cryostat ramp rate in K per second (a real one manages a few K per minute)."""

SAMPLE_POSITIONS = 10
CHANGER_SECONDS_PER_POSITION = 0.1


class FieldDirection(Enum):
    """Direction of the magnet's field relative to the beam."""

    VERTICAL = "vertical"
    HORIZONTAL = "horizontal"


def set_temperature(
    temperature: float,
    wait: bool = True,
    tolerance: float = 0.5,
    rate: Optional[float] = None,
) -> None:
    """Sets the sample temperature and optionally waits until it is stable.

    Args:
        temperature: setpoint in K (1.5 to 300).
        wait: wait until the temperature is within ``tolerance`` of the setpoint.
        tolerance: how close counts as stable, in K.
        rate: ramp rate in K/min; None keeps the controller's current rate.

    Examples:
        >>> set_temperature(10)
        >>> set_temperature(150.0, wait=False)
    """
    state = load_state()
    start = float(state["temperature"])
    target = float(temperature)
    message(f"Setting temperature to {target:g} K" + (f" at {rate:g} K/min" if rate else ""))
    update_state(temperature_setpoint=target)
    if not wait:
        update_state(temperature=target)
        return
    current = start
    while abs(current - target) > tolerance:
        pause_point()
        step = min(abs(target - current), DEMO_RATE * 0.1)
        current += step if target > current else -step
        done = 100.0 * (1 - abs(target - current) / max(abs(target - start), 1e-9))
        progress(done, f"temperature {current:.1f} K -> {target:g} K")
        sleep(0.1)
    update_state(temperature=target)
    progress(100.0, f"temperature stable at {target:g} K")


def estimate_set_temperature(temperature, wait=True, tolerance=0.5, rate=None):
    """Seconds to reach the setpoint at the demo ramp rate."""
    if not wait:
        return 0.1
    return abs(float(load_state()["temperature"]) - float(temperature)) / DEMO_RATE + 0.1


def validate_set_temperature(temperature, wait=True, tolerance=0.5, rate=None):
    """The setpoint must be inside the cryostat's range."""
    if not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
        return (
            f"temperature {temperature:g} K is outside the cryostat's range "
            f"{MIN_TEMPERATURE:g} to {MAX_TEMPERATURE:g} K"
        )
    if tolerance <= 0:
        return "tolerance must be positive"
    return None


def set_field(field: float, direction: FieldDirection = FieldDirection.VERTICAL) -> None:
    """Sets the magnetic field at the sample.

    Args:
        field: field in tesla (-7 to 7).
        direction: ``VERTICAL`` or ``HORIZONTAL``.
    """
    if isinstance(direction, str):  # a job passes the member name
        direction = FieldDirection[direction]
    message(f"Setting field to {field:g} T ({direction.value})")
    sleep(0.2)
    update_state(field=float(field), field_direction=direction.name)


def estimate_set_field(field, direction=FieldDirection.VERTICAL):
    return 0.2


def validate_set_field(field, direction=FieldDirection.VERTICAL):
    if abs(field) > 7:
        return f"field {field:g} T is beyond the magnet's 7 T"
    return None


def change_sample(position: int, name: str = "", thickness: float = 1.0) -> None:
    """Moves the sample changer to a position and records the sample's details.

    Args:
        position: sample changer slot, 1 to 10.
        name: sample name, used in run titles.
        thickness: sample thickness in mm.

    Examples:
        >>> change_sample(3, name="Fe3O4 powder", thickness=2.0)
    """
    state = load_state()
    distance = abs(int(state["sample_position"]) - position)
    message(f"Moving sample changer to position {position} ({name or 'unnamed sample'})")
    for step in range(distance):
        pause_point()
        progress(100.0 * step / max(distance, 1), f"sample changer at {step + 1}")
        sleep(CHANGER_SECONDS_PER_POSITION)
    update_state(sample_position=position, sample_name=name, sample_thickness=thickness)
    progress(100.0, f"sample {name or position} in the beam")


def estimate_change_sample(position, name="", thickness=1.0):
    distance = abs(int(load_state()["sample_position"]) - int(position))
    return distance * CHANGER_SECONDS_PER_POSITION


def validate_change_sample(position, name="", thickness=1.0):
    if not 1 <= position <= SAMPLE_POSITIONS:
        return (
            f"position {position} does not exist: the changer has positions 1 to {SAMPLE_POSITIONS}"
        )
    if thickness <= 0:
        return "thickness must be positive"
    return None
