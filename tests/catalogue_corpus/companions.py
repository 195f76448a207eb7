"""Companions: estimate_<name> and validate_<name>."""


def measure(seconds: float = 1.0):
    """Measures."""


def estimate_measure(seconds: float = 1.0):
    return seconds


def validate_measure(seconds: float = 1.0):
    return None if seconds > 0 else "seconds must be positive"


def only_estimated(n: int = 1):
    """Has an estimate but no validation."""


def estimate_only_estimated(n: int = 1):
    return n


def estimate_orphan_total(n: int = 1):
    """No command named orphan_total here, so this is an ordinary command."""
    return n


def _hidden():
    pass


def estimate__hidden():
    return 0
