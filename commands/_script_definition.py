"""Stand-ins for genie_python's script-generator base class, for the demo without genie_python.

Real ISIS script definitions import ``ScriptDefinition`` and ``cast_parameters_to`` from
``genie_python.genie_script_generator``. genie_python is an optional extra of the script
server (a large install the demo does not need), so ``do_sans.py`` takes them from genie_python
when the job interpreter has it, and from here otherwise. Only what the demo uses is here:
a base class and a decorator that converts each named argument with its type before the call.
"""

import functools
import inspect


class ScriptDefinition:
    """Base class of a script definition (``class DoRun(ScriptDefinition)``)."""

    def get_help(self):
        """The definition's help text (its docstring unless overridden)."""
        return inspect.getdoc(self) or ""


def cast_parameters_to(*cast_args, **casts):
    """Decorator: convert the named parameters with the given types before the call.

    The script generator sends every value as a string; ``cast_parameters_to(position=int)``
    makes ``position`` an int again. Positional values are matched to parameter names.
    """
    if cast_args:
        raise TypeError("cast_parameters_to takes keyword arguments: name=type")

    def decorate(func):
        names = list(inspect.signature(func).parameters)

        @functools.wraps(func)
        def cast_call(*args, **kwargs):
            bound = dict(zip(names, args))
            bound.update(kwargs)
            for name, kind in casts.items():
                if name in bound and not isinstance(bound[name], kind):
                    bound[name] = kind(bound[name])
            self_name = names[0] if names and names[0] == "self" else None
            if self_name is not None:
                return func(bound.pop(self_name), **bound)
            return func(**bound)

        return cast_call

    return decorate
