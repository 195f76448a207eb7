"""ISIS script definition used by the validation tests."""

from genie_python.genie_script_generator import ScriptDefinition, cast_parameters_to


class DoRun(ScriptDefinition):
    """Scan the temperature from start to stop."""

    @cast_parameters_to(start=float, stop=float, step=float)
    def run(self, start: float = 10.0, stop: float = 20.0, step: float = 5.0):
        """Runs the scan.

        Args:
            start: first temperature in K.
            stop: last temperature in K.
            step: step in K.
        """
        return None

    @cast_parameters_to(start=float, stop=float, step=float)
    def parameters_valid(self, start: float = 10.0, stop: float = 20.0, step: float = 5.0):
        if stop < start:
            return "stop must not be below start"
        if step <= 0:
            return "step must be positive"
        return None

    @cast_parameters_to(start=float, stop=float, step=float)
    def estimate_time(self, start: float = 10.0, stop: float = 20.0, step: float = 5.0):
        return (int((stop - start) / step) + 1) * 60.0

    def get_help(self):
        return "Temperature scan"
