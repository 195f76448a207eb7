"""A library package the instrument code uses (like general/ in InstrumentScripts).

Its __init__ re-exports nothing, so as a command source it serves no commands.
"""
