"""Reflectometry commands (idiom: technique/reflectometry/__init__.py).

Commands are static methods of action classes published by assignment, and an explicit
__all__ that also lists classes (which are not commands).
"""

from .script_actions import RunActions, autoheight

run_angle = RunActions.run_angle
transmission = RunActions.transmission

__all__ = ["RunActions", "run_angle", "transmission", "autoheight"]
