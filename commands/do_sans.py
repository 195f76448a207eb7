"""ISIS script definition: measure one sample (transmission, then SANS) at a temperature.

Written as the script generator expects (ISISComputingGroup/ScriptDefinitions): one class
``DoRun(ScriptDefinition)`` whose ``run``, ``parameters_valid`` and ``estimate_time`` take
the same keyword arguments, all with defaults, all arriving as strings and cast with
``cast_parameters_to``. The script server serves it as the command ``do_sans``.

It takes ``ScriptDefinition`` and ``cast_parameters_to`` from genie_python, as real script
definitions do, when the job interpreter has genie_python; otherwise from the demo's own
stand-ins (``_script_definition.py``), so the demo runs on a fresh install without the
optional ``genie`` extra. The catalogue reads it without importing it either way.
"""

from enum import Enum

try:
    from genie_python.genie_script_generator import ScriptDefinition, cast_parameters_to
except ImportError:  # genie_python is optional: the demo's stand-ins
    from _script_definition import ScriptDefinition, cast_parameters_to

MIN_TEMPERATURE = 1.5
MAX_TEMPERATURE = 300.0


class DoRun(ScriptDefinition):
    """Measure one sample: transmission, then SANS, at one temperature."""

    enum_params = ["aperture"]

    class aperture_enum(Enum):
        small = 1
        medium = 2
        large = 3

    @cast_parameters_to(
        position=int,
        sample=str,
        temperature=float,
        aperture=str,
        trans_seconds=float,
        sans_seconds=float,
    )
    def run(
        self,
        position: int = 1,
        sample: str = "",
        temperature: float = 20.0,
        aperture: str = "medium",
        trans_seconds: float = 1.0,
        sans_seconds: float = 2.0,
    ):
        """Measures one sample.

        Args:
            position: sample changer slot (1 to 10).
            sample: sample name, used in the run titles.
            temperature: sample temperature in K.
            aperture: beam aperture: small, medium or large.
            trans_seconds: transmission counting time in seconds.
            sans_seconds: SANS counting time in seconds.
        """
        # Import the instrument's commands here, not at the top, so that the script
        # generator can load this definition without the instrument (its convention).
        from dae import count
        from sample import change_sample, set_temperature

        change_sample(position, name=sample)
        set_temperature(temperature)
        print(f"Aperture {aperture}")
        count(trans_seconds, title=f"{sample} {temperature:g}K TRANS")
        count(sans_seconds, title=f"{sample} {temperature:g}K SANS")
        return None

    @cast_parameters_to(
        position=int,
        sample=str,
        temperature=float,
        aperture=str,
        trans_seconds=float,
        sans_seconds=float,
    )
    def parameters_valid(
        self,
        position: int = 1,
        sample: str = "",
        temperature: float = 20.0,
        aperture: str = "medium",
        trans_seconds: float = 1.0,
        sans_seconds: float = 2.0,
    ):
        errors = ""
        if not 1 <= position <= 10:
            errors += f"position {position} does not exist: the changer has positions 1 to 10\n"
        if not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
            errors += (
                f"temperature {temperature:g} K is outside "
                f"{MIN_TEMPERATURE:g} to {MAX_TEMPERATURE:g} K\n"
            )
        if aperture not in self.aperture_enum.__members__:
            errors += f"aperture must be one of {', '.join(self.aperture_enum.__members__)}\n"
        if trans_seconds <= 0 or sans_seconds <= 0:
            errors += "counting times must be positive\n"
        return errors or None

    @cast_parameters_to(
        position=int,
        sample=str,
        temperature=float,
        aperture=str,
        trans_seconds=float,
        sans_seconds=float,
    )
    def estimate_time(
        self,
        position: int = 1,
        sample: str = "",
        temperature: float = 20.0,
        aperture: str = "medium",
        trans_seconds: float = 1.0,
        sans_seconds: float = 2.0,
    ):
        # The two counts. Moving the changer and reaching the temperature take as long as
        # they are far from where they are: the dry run simulates them and counts the
        # longer of this and what it simulated.
        return trans_seconds + sans_seconds + 0.04

    def get_help(self):
        return (
            "Measures one sample: moves it into the beam, sets its temperature, "
            "then counts transmission and SANS."
        )
