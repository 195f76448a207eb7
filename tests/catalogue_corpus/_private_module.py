"""Files starting with an underscore are helpers, never read for commands."""


def would_be_command(x: int = 1):
    """Not a command: the file is private."""
