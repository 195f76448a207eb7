"""A script definition in the style of ISISComputingGroup/ScriptDefinitions."""

from enum import Enum

from genie_python.genie_script_generator import (
    CopyPreviousRow,
    ScriptDefinition,
    cast_parameters_to,
)


def helper_function(x):
    """Script definition files expose only the definition, not other functions."""


class DoRun(ScriptDefinition):
    """Class docstring, used when get_help is not a literal."""

    enum_params = ["status"]

    class status_enum(Enum):
        ok = 1
        not_ok = 2

    @cast_parameters_to(start_temp=float, stop_temp=float, step_temp=float, status=str)
    def run(self, start_temp=1.0, stop_temp=CopyPreviousRow(2.0), step_temp=0.5, status="ok"):
        """Runs the loop.

        Args:
            start_temp: first temperature in K.
            stop_temp: last temperature in K.
        """
        return None

    @cast_parameters_to(start_temp=float, stop_temp=float, step_temp=float, status=str)
    def parameters_valid(self, start_temp=1.0, stop_temp=2.0, step_temp=0.5, status="ok"):
        if start_temp == 0 or stop_temp == 0:
            return "Cannot go to zero kelvin\n"
        return None

    def estimate_time(self, start_temp=1.0, stop_temp=2.0, step_temp=0.5, status="ok"):
        return 30.0

    def get_help(self):
        return """
An example config to show a looping mechanism.\n
        Second line.
        """
