"""Instrument folders, nested (idiom: InstrumentScripts instrument/__init__.py)."""
