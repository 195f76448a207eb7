"""Run actions of a reflectometer (idiom: technique/reflectometry/script_actions.py)."""


class RunActions:
    """Measurements at angles."""

    @staticmethod
    def run_angle(sample: str, angle: float, count_uamps: float = 20.0, mode: str = "NR"):
        """Move to an angle and count.

        Args:
            sample: the sample name.
            angle: theta in degrees.
            count_uamps: how long to count.
            mode: the reflectometry mode.
        """
        print("run_angle", sample, angle, count_uamps, mode)

    @staticmethod
    def transmission(sample: str, count_uamps: float = 20.0):
        """Measure a transmission run of a sample."""
        print("transmission", sample, count_uamps)


def autoheight(sample: str):
    """Align the height of a sample with the laser."""
    print("autoheight", sample)
