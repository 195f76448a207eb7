"""Command sources that are packages, and commands re-exported from instrument modules.

A folder of a command directory with an `__init__.py` (not starting with `_` or `.`) is a
command source: its `__init__.py` is read as module `<folder>`, and the commands it
re-exports (`from .sans import *`, `from .util import flipper1`, `from pkg.scans import
scan`, as instrument/*/__init__.py in InstrumentScripts do) are served under the package,
with the signature and docstring of their definition. Modules inside the package are not
sources of their own; they are read only when re-exported, and watched for changes.

A re-export is followed only to a file under a command directory that is not itself a
source of the catalogue (whose commands it serves itself); names imported from the
standard library, genie_python or any installed package are never commands. An ordinary
command file re-exports too (`from instrument.zoom import *` in an instrument's start-up
file; with a literal `__all__`, only the names it lists), except from private modules
(`from _beamline import load_state`: a `_name` module holds private utilities); a package's
`__init__.py` re-exports from any of its modules.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable

from scriptserver_ioc.catalogue.assigned import ReExport
from scriptserver_ioc.catalogue.helpers import CLASS_HELPER
from scriptserver_ioc.catalogue.model import FOUND_REEXPORT, Command

MAX_DEPTH = 6
"""Re-exports of re-exports are followed this deep (cycles stop earlier)."""


def is_package(entry: os.DirEntry) -> bool:
    """True for a folder read as a command package."""
    if entry.name.startswith(("_", ".")) or not entry.name.isidentifier():
        return False
    try:
        return entry.is_dir() and os.path.isfile(os.path.join(entry.path, "__init__.py"))
    except OSError:
        return False


def package_files(package: Path) -> list[Path]:
    """Every `.py` file inside a package (its dependencies), sorted; hidden folders skipped."""
    found = []
    for root, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__")))
        found += [Path(root) / f for f in sorted(files) if f.endswith(".py")]
    return found


def _private(path: Path, dirs: list[Path]) -> bool:
    """A module named `_x` (or inside a folder `_x`): its names are private utilities."""
    for directory in dirs:
        if directory in path.parents:
            rel = path.relative_to(directory)
            parts = list(rel.parent.parts) + ([] if rel.name == "__init__.py" else [rel.stem])
            return any(p.startswith("_") and not p.startswith("__") for p in parts)
    return False


def resolve_module(reexport: ReExport, importer: Path, dirs: list[Path]) -> Path | None:
    """The file a `from ... import` names, if it is under a command directory."""
    parts = [p for p in reexport.module.split(".") if p]
    if reexport.level:
        base = importer.parent
        for _ in range(reexport.level - 1):
            base = base.parent
        candidates = [base]
    else:
        candidates = list(dirs)
    for base in candidates:
        target = base.joinpath(*parts) if parts else base
        for path in (target.with_suffix(".py") if parts else None, target / "__init__.py"):
            if path is not None and path.is_file():
                return path
    return None


def reexported_commands(
    reexports: list[ReExport],
    importer: Path,
    module: str,
    dirs: list[Path],
    read: Callable[[Path], object],
    depth: int = 0,
    sources: frozenset[Path] = frozenset(),
) -> list[Command]:
    """Commands a file re-exports, served as commands of `module` (the importer's).

    Args:
        reexports: the importer's re-exports (`FileResult.reexports`).
        importer: the importing file.
        module: the importer's module name (what a job imports to reach the command).
        dirs: the command directories.
        read: reads a file into a `FileResult` (cached by the caller).
        depth: how many re-exports deep this call is (cycles stop at `MAX_DEPTH`).
        sources: the catalogue's own sources: their commands are served by them, so a
            re-export of one is not served a second time.
    """
    if depth > MAX_DEPTH:
        return []
    commands: dict[str, Command] = {}
    for reexport in reexports:
        target = resolve_module(reexport, importer, dirs)
        if target is None or target == importer or target in sources:
            continue
        if importer.name != "__init__.py" and _private(target, dirs):
            continue  # `from _beamline import load_state`: a private helper module
        result = read(target)
        available = {c.name: c for c in result.commands}  # type: ignore[attr-defined]
        if importer.name == "__init__.py":
            available.update(_published_helpers(result, reexport))
        nested = reexported_commands(
            result.reexports,  # type: ignore[attr-defined]
            target,
            module,
            dirs,
            read,
            depth + 1,
            sources,
        )
        for command in nested:
            available.setdefault(command.name, command)
        if reexport.source == "*":
            chosen = list(available.values())
        elif reexport.source in available:
            chosen = [dataclasses.replace(available[reexport.source], name=reexport.name)]
        else:
            chosen = []
        for command in chosen:
            commands.setdefault(
                command.name,
                dataclasses.replace(
                    command,
                    module=module,
                    path=importer,
                    line=reexport.line,
                    found=FOUND_REEXPORT,
                    signature=command.name + command.signature[command.signature.index("(") :],
                    has_estimate=command.has_estimate and reexport.source == "*",
                    has_validate=command.has_validate and reexport.source == "*",
                ),
            )
    return list(commands.values())


def _published_helpers(result, reexport: ReExport) -> dict[str, Command]:
    """Helpers of a module that a package's re-export makes commands (see `helpers`).

    By name, any helper (`from general.scans.detector import specific_spectra`: the package
    publishes it for users); by a star import, a helper only because a class of its file
    calls it (the larmor `sleep`): the star import hands it to users as well.
    """
    reasons = result.helpers  # type: ignore[attr-defined]
    return {
        c.name: c
        for c in result.helper_commands  # type: ignore[attr-defined]
        if (c.name == reexport.source)
        or (reexport.source == "*" and reasons.get(c.name) == CLASS_HELPER)
    }


def reexported_helpers(
    reexports: list[ReExport],
    importer: Path,
    dirs: list[Path],
    read: Callable[[Path], object],
    depth: int = 0,
) -> set[str]:
    """Names a star import brings along that are not commands of their module.

    A star import of a module without `__all__` also binds its helpers and what it imported
    (`local_wrapper`, `from time import sleep`): they are not commands of the package
    either. A name the module imported by name from another instrument module is judged
    by that module (`from .sans import setup_dae_transmission`, made in sans.py's
    `locals()` loop, stays a command of the package).
    """
    names: set[str] = set()
    if depth > MAX_DEPTH:
        return names
    for reexport in reexports:
        if reexport.source != "*":
            continue
        target = resolve_module(reexport, importer, dirs)
        if target is None or target == importer:
            continue
        result = read(target)
        commands = {c.name for c in result.commands}  # type: ignore[attr-defined]
        names |= {
            name
            for name in set(result.bound) - commands  # type: ignore[attr-defined]
            if not _command_elsewhere(name, result, target, dirs, read, depth)
        }
        names |= reexported_helpers(
            result.reexports,  # type: ignore[attr-defined]
            target,
            dirs,
            read,
            depth + 1,
        )
    return names


def _command_elsewhere(
    name: str, result, module: Path, dirs: list[Path], read: Callable, depth: int
) -> bool:
    """True if `module` imported `name` by name from an instrument module that serves it.

    Served there: a command of that module, or a name it makes in code (not bound
    statically, as a `locals()` loop's names), followed through further imports by name.
    """
    if depth > MAX_DEPTH:
        return False
    for reexport in result.reexports:  # type: ignore[attr-defined]
        if reexport.name != name or reexport.source == "*":
            continue
        origin = resolve_module(reexport, module, dirs)
        if origin is None or origin == module:
            return False
        found = read(origin)
        if reexport.source in {c.name for c in found.commands}:  # type: ignore[attr-defined]
            return True
        if reexport.source not in found.bound:  # type: ignore[attr-defined]
            return True  # made in code there (a locals() loop): the checker will tell
        return _command_elsewhere(reexport.source, found, origin, dirs, read, depth + 1)
    return False
