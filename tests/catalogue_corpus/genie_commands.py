"""A genie_python-style command module using genie's own decorators."""

from genie_python.genie_api_setup import helparglist, usercommand


@usercommand
@helparglist("block[, value][, wait]")
def set_block(block, value=None, wait=False):
    """Sets a block's setpoint.

    Args:
        block (str): the block name.
        value (float, optional): the setpoint.
        wait (bool, optional): wait for the block to reach it.
    """


@usercommand
def measure_frames(frames: int = 1000, period: int = 1):
    """Counts a number of good frames.

    Args:
        frames: good frames to count.
        period: DAE period.
    """


@usercommand
def secret():
    """Hidden from users."""


secret.is_hidden = True


def helper(x):
    """Not marked: not a command."""
