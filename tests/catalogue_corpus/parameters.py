"""Every kind of parameter."""


def kinds(a, /, b: int, c: float = 2.0, *rest: int, d: str, e: bool = False, **options):
    """All parameter kinds.

    Args:
        a: positional only.
        b: positional or keyword.
        c: with a default.
        *rest: extra positional values.
        d: keyword only, required.
        e: keyword only with a default.
        **options: extra keywords.
    """


def star_only(*, key: str = "x"):
    """Keyword-only without *args."""


def no_params():
    """Takes nothing."""
