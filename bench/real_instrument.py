"""Generate an instrument of real size written the way ISIS instrument code is written.

Used by bench/bench_catalogue.py. Per package (like InstrumentScripts' instrument/<name>/):
an `__init__.py` of star re-exports, modules whose commands are the methods of an
instrument object published by a `locals()` loop of wrappers (instrument/larmor/sans.py),
modules of `def` commands with helpers a class uses (general/scans/scans.py), aliases of
bound methods and a `functools.partial` (instrument/larmor/scans.py); plus flat command
files and script definitions with run-time `get_help()` and global parameters
(ScriptDefinitions' emu_default.py). Only the standard library is imported, so the checker
can import every module.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PACKAGES = 6
MODULES_PER_PACKAGE = 10
FLAT_FILES = 6
DEFINITIONS = 4

METHOD = '''
    def {name}(self, sample: str, value: float = {i}.5, count: int = {i}, wait: bool = True):
        """Move the {what} of the sample to a value and count there
        while the instrument waits for the set point.

        A longer explanation of what the command does, how long it takes and what it
        leaves behind, as real instrument commands have. It mentions the blocks it
        moves, the DAE mode it needs and what a user should check afterwards.

        Args:
            sample: the sample name, used in the run title.
            value: where to move, in the block's units.
            count: how many frames to count, in thousands.
            wait: wait until the move is done.
        """
        self._log.append(("{name}", sample, value, count, wait))
        if wait:
            self._settle(value)
        return merge_{m}(dict(sample=sample), dict(value=value))
'''

FUNCTION = '''

def {name}(block: str, start: float, stop: float, points: int = {i}, frames: int = 100):
    """Scan a block from start to stop in equal steps, counting frames at
    each point, and fit the result.

    Args:
        block: the block to scan.
        start: the first position.
        stop: the last position.
        points: how many points.
        frames: frames per point.
    """
    positions = [start + (stop - start) * k / max(points - 1, 1) for k in range(points)]
    for position in positions:
        _LOG.append((block, position, frames))
    return len(positions)
'''

MODULE_HEAD = '''"""Generated module {p}.{m}: commands of an instrument object and scans."""

import functools

_LOG = []


def merge_{m}(x, y):
    """Merge two dicts into a new one (a helper of the class)."""
    final = dict(x)
    final.update(y)
    return final


def local_wrapper_{m}(obj, method):
    """A function that calls METHOD on OBJ (a factory: not a command)."""

    @functools.wraps(getattr(obj, method))
    def inner(*args, **kwargs):
        return getattr(obj, method)(*args, **kwargs)

    return inner


class Instrument{m}:
    """The instrument object whose public methods are commands."""

    def __init__(self):
        self._log = []

    def _settle(self, value):
        return abs(value) >= 0
'''

DEFINITION = '''"""Generated script definition {d}: run-time help and global parameters."""

from collections import OrderedDict

try:
    from genie_python.genie_script_generator import ScriptDefinition
except ImportError:  # the benchmark does not need genie_python
    ScriptDefinition = object


class DoRun(ScriptDefinition):
    global_params_definition = OrderedDict({{"Rate (Mev/hr)": ("110", int)}})

    def run(self, start="1.5", stop="2.5", step="0.5", mevents="10", device="ZF"):
        print(start, stop, step, mevents, device)

    def estimate_time(self, start="1.5", stop="2.5", step="0.5", mevents="10", device="ZF"):
        points = int((float(stop) - float(start)) / float(step)) + 1
        return float(mevents) * points / (float(self.global_params["Rate (Mev/hr)"]) / 3600.0)

    def get_help(self):
        return """
Scan {{}} points of definition {d}.
""".format(3)
'''


def _module(p: int, m: int, methods: int = 10, functions: int = 6) -> str:
    parts = [MODULE_HEAD.format(p=p, m=m)]
    names = [f"move_{p}_{m}_{k}" for k in range(methods)]
    parts += [METHOD.format(name=n, i=k, what=f"axis {k}", m=m) for k, n in enumerate(names)]
    parts += [FUNCTION.format(name=f"scan_{p}_{m}_{k}", i=k + 2) for k in range(functions)]
    parts.append(f"\n\n_instrument = Instrument{m}()\n")
    if m % 2 == 0:
        parts.append(
            "for _method in [n for n in dir(_instrument) if n.startswith('move_')]:\n"
            f"    locals()[_method] = local_wrapper_{m}(_instrument, _method)\n"
        )
    else:
        parts += [f"{n} = _instrument.{n}\n" for n in names]
    parts.append(f"quick_scan_{p}_{m} = functools.partial(scan_{p}_{m}_0, points=3)\n")
    return "".join(parts)


def generate(directory: Path) -> list[Path]:
    """Write the instrument into `directory`; returns every file written."""
    paths: list[Path] = []
    for p in range(PACKAGES):
        package = directory / f"beamline{p}"
        package.mkdir()
        init = ['"""Generated instrument package: its commands are re-exported."""\n']
        for m in range(MODULES_PER_PACKAGE):
            path = package / f"part{m}.py"
            path.write_text(_module(p, m), encoding="utf-8")
            paths.append(path)
            init.append(f"from .part{m} import *  # noqa: F401, F403\n")
        (package / "__init__.py").write_text("".join(init), encoding="utf-8")
        paths.append(package / "__init__.py")
    for f in range(FLAT_FILES):
        path = directory / f"flat{f}.py"
        path.write_text(_module(100 + f, f), encoding="utf-8")
        paths.append(path)
    for d in range(DEFINITIONS):
        path = directory / f"definition{d}.py"
        path.write_text(DEFINITION.format(d=d), encoding="utf-8")
        paths.append(path)
    old = time.time() - 3600  # not "recently modified": no re-reads of racy files
    for path in paths:
        os.utime(path, (old, old))
    return paths


def line_count(paths: list[Path]) -> int:
    """Lines in all the files."""
    return sum(path.read_text(encoding="utf-8").count("\n") for path in paths)
