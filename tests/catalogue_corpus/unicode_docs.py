"""Docstrings with non-ASCII text, in Google and NumPy style."""


def set_wavelength(wavelength: float, unit: str = "Å"):
    """Sélectionne la longueur d'onde λ (en Å) — 中子.

    Args:
        wavelength: longueur d'onde λ en Å.
        unit: unité (« Å » ou « nm »).
    """


def numpy_style(current: float, temperature: float = 4.2):
    """Sets the magnet current (µA) at a temperature in °C.

    Parameters
    ----------
    current : float
        magnet current in µA
    temperature : float, optional
        temperature in °C
    """


def google_typed(frames, period=1):
    """Counts frames; types only in the docstring.

    Args:
        frames (int): number of frames.
        period (int, optional): DAE period.
    """


def undocumented(x):
    pass
