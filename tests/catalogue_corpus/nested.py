"""Things that are not commands next to things that are."""

import sys


def outer(x: int = 1):
    """A command with a nested helper."""

    def inner_helper(y):
        return y

    return inner_helper(x)


class Sample:
    """A class: neither it nor its methods are commands."""

    def method(self, value: float):
        """A method."""

    @staticmethod
    def static_method():
        """A static method."""


shortcut = lambda value: value  # noqa: E731


async def fetch_async(url: str):
    """Asynchronous functions are not commands."""


if sys.platform == "win32":

    def platform_command(path: str = "C:\\data"):
        """Windows variant."""

else:

    def platform_command(path: str = "/data"):
        """Other platforms' variant (the last definition wins)."""


try:
    import numpy  # noqa: F401
except ImportError:
    pass
else:

    def with_numpy(points: int = 10):
        """Defined inside a top-level try: still a command."""


alias = outer  # an alias is a command too (issue 13)
