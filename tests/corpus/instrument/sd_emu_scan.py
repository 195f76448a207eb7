"""A temperature/field scan script definition as ISIS writes them.

Idioms from ScriptDefinitions' emu_default.py: get_help() built with .format() at run time,
global_params_definition read by estimate_time through self.global_params, parameters
cast with genie's cast_parameters_to, positional values.
"""

from collections import OrderedDict

from genie_python.genie_script_generator import ScriptDefinition, cast_parameters_to

magnet_devices = {"ZF": "Active ZF", "LF": "Danfysik", "TF": "T20 Coils"}


def points(start, stop, step):
    """Number of points from start to stop (a helper of the definition)."""
    if step <= 0 or start == stop:
        return 1
    return int(abs(stop - start) / step) + 1


class DoRun(ScriptDefinition):
    global_params_definition = OrderedDict({"Rate (Mev/hr)": ("110", int)})

    @cast_parameters_to(
        start_temperature=float,
        stop_temperature=float,
        step_temperature=float,
        mevents=float,
        magnet_device=str,
    )
    def run(
        self,
        start_temperature="1.5",
        stop_temperature="1.5",
        step_temperature="0",
        mevents="10",
        magnet_device="ZF",
    ):
        count = points(start_temperature, stop_temperature, step_temperature)
        print(f"scan {count} points of {mevents} Mev with {magnet_devices[magnet_device]}")
        print("rate", self.global_params["Rate (Mev/hr)"])

    @cast_parameters_to(
        start_temperature=float,
        stop_temperature=float,
        step_temperature=float,
        mevents=float,
        magnet_device=str,
    )
    def parameters_valid(
        self,
        start_temperature="1.5",
        stop_temperature="1.5",
        step_temperature="0",
        mevents="10",
        magnet_device="ZF",
    ):
        if magnet_device not in magnet_devices:
            return f"Magnet device must be one of {list(magnet_devices)}"
        return None

    @cast_parameters_to(
        start_temperature=float,
        stop_temperature=float,
        step_temperature=float,
        mevents=float,
        magnet_device=str,
    )
    def estimate_time(
        self,
        start_temperature="1.5",
        stop_temperature="1.5",
        step_temperature="0",
        mevents="10",
        magnet_device="ZF",
    ):
        count = points(start_temperature, stop_temperature, step_temperature)
        return mevents * count / (float(self.global_params["Rate (Mev/hr)"]) / 3600.0)

    def get_help(self):
        return f"""
Scan the temperature in steps, counting the same number of events at each point.
Magnet device must be one of {list(magnet_devices.keys())}.

Rates come from the global parameters.
"""
