"""A script definition whose declared default is not one of its allowed values.

Idiom: ScriptDefinitions' enum_example.py (process_status="not_working" with choices ok,
still_okay, definitely_not_okay).
"""

from enum import Enum

from genie_python.genie_script_generator import ScriptDefinition


class DoRun(ScriptDefinition):
    enum_params = ["process_status"]

    class process_status_enum(Enum):
        ok = 1
        still_okay = 2
        definitely_not_okay = 3

    def run(self, process_status="not_working"):
        print("Running with process_status: " + process_status)

    def parameters_valid(self, process_status="ok"):
        if self.process_status_enum[process_status] == self.process_status_enum.definitely_not_okay:
            return "process_status must be ok"
        return None

    def get_help(self):
        return f"""
Check the {len(self.process_status_enum)} process states.
"""
