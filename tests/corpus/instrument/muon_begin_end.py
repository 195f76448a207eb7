"""Begin and end of muon runs (idiom: InstrumentScripts technique/muon/muon_begin_end.py).

get_input asks the console: a job has none, so it is a helper, never a command.
"""

SAMPLE = {"name": "", "temperature": 0.0}


def get_input(prompt):
    return input(prompt)


def set_name_sample_par(name: str):
    """Set the sample name."""
    SAMPLE["name"] = name


def set_temp_sample_par(temperature: float = 1.5):
    """Set the sample temperature
    parameter shown in the run title."""
    SAMPLE["temperature"] = temperature


def begin_precmd(quiet: bool = False):
    """Ask for the sample details before a run begins."""
    if not quiet:
        set_name_sample_par(get_input("Sample? "))
