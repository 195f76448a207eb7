"""Motion commands of the demo instrument, written genie_python style.

This file marks its commands with ``@usercommand`` (as genie_python's own commands are),
so only the marked functions are commands; ``@helparglist`` gives the argument text
shown to users. The decorators are local copies of genie_python's
(``genie_python.genie_api_setup``), which would work the same but initialise genie on import.
"""

from _beamline import (
    helparglist,
    load_state,
    message,
    pause_point,
    progress,
    sleep,
    update_state,
    usercommand,
)

SPEED = 20.0
"""Demo motor speed in mm (or degrees) per second."""


@usercommand
@helparglist("block, position[, wait]")
def move(block, position, wait=True):
    """Moves a block (motor) to a position.

    Args:
        block (str): name of the block, e.g. ``"sample_x"``.
        position (float): target position in the block's units.
        wait (bool, optional): wait until the move has finished.

    Examples:
        >>> move("sample_x", 12.5)
    """
    motors = load_state()["motors"]
    current = float(motors.get(block, 0.0))
    distance = abs(float(position) - current)
    message(f"Moving {block} from {current:g} to {position:g}")
    if wait:
        steps = max(1, int(distance / SPEED / 0.05))
        for i in range(steps):
            pause_point()
            progress(100.0 * i / steps, f"{block} moving")
            sleep(distance / SPEED / steps)
    motors[block] = float(position)
    update_state(motors=motors)


def estimate_move(block, position, wait=True):
    current = float(load_state()["motors"].get(block, 0.0))
    return abs(float(position) - current) / SPEED if wait else 0.0


@usercommand
def where(block):
    """Prints and returns the position of a block.

    Args:
        block (str): name of the block.

    Returns:
        float: the position (0 for a block never moved).
    """
    position = float(load_state()["motors"].get(block, 0.0))
    print(f"{block} = {position:g}")
    return position


@usercommand
def home(*blocks):
    """Homes blocks: moves each to position 0.

    Args:
        *blocks (str): names of the blocks to home.
    """
    for block in blocks:
        move(block, 0.0)


def motor_names():
    """Lists the blocks moved so far (a helper, not a command: it is not marked)."""
    return sorted(load_state()["motors"])
