"""A command file whose name is a standard-library module's (io).

Idiom: InstrumentScripts general/utilities/io.py, here directly in a command directory.
"""


def save_table(name: str = "table.dat"):
    """Save the current table of positions."""
    print("saved", name)
