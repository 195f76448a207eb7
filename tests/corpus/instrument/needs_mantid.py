"""Commands that need a package the job interpreter does not have.

Idiom: instrument code importing analysis packages (InstrumentScripts
technique/sans/auto_reduction.py imports mantid-era modules) on a machine without them.
"""

import scriptserver_missing_analysis_package  # noqa: F401


def reduce_run(run_number: int):
    """Reduce a run with the analysis package."""
    print("reduce", run_number)
