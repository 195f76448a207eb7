"""The command catalogue: every command of the command directories, kept up to date.

Threading: `reload()` may be called from any thread (the watcher's, the IOC's); reloads are
serialised by a lock. Readers (`get`, `names`, `to_json`, `bind`, `errors`, `revision`) never
block: each reload builds a new immutable snapshot and swaps it in with one assignment, so a
reader sees either the old catalogue or the new one, never a mix.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

from scriptserver_ioc.catalogue.binding import BindError, bind_arguments, unknown_command
from scriptserver_ioc.catalogue.imports import JobImport, import_verdicts
from scriptserver_ioc.catalogue.live import LiveChecker, apply_live, live_module, live_request
from scriptserver_ioc.catalogue.model import Command
from scriptserver_ioc.catalogue.packages import (
    reexported_commands,
    reexported_helpers,
)
from scriptserver_ioc.catalogue.reader import FileResult, file_error, read_command_file
from scriptserver_ioc.catalogue.scanning import (
    StatKey,
    module_name,
    scan_sources,
    stat_key,
)

logger = logging.getLogger(__name__)

RACY_SECONDS = 2.0
"""A file modified less than this long before it was read is read again at the next reload,
in case a second edit within the file system's timestamp resolution left its stat unchanged."""


@dataclass(frozen=True)
class _Snapshot:
    revision: int
    commands_revision: int = 0
    commands: dict[str, Command] = field(default_factory=dict)
    json: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)


@dataclass
class _CachedFile:
    key: StatKey
    result: FileResult
    racy: bool
    live: dict | None = None  # the checker's answer for this content (with a LiveChecker)
    stale: dict | None = None  # the answer for the previous content, shown until then


class Catalogue:
    """The commands read from the command directories (without importing them).

    Args:
        dirs: the command directories, in `--commands` order; on a name clash the first
            directory wins, then the alphabetically first file.
        live: asks a checker process what only importing a module tells (import errors,
            names made by code); None reads syntax only.
    """

    def __init__(self, dirs: Iterable[Path | str], live: LiveChecker | None = None) -> None:
        self.dirs = [Path(d).absolute() for d in dirs]
        self.live = live
        self._lock = threading.Lock()
        self._describing = threading.Lock()  # one checker run at a time
        self._cache: dict[Path, _CachedFile] = {}
        self._deps: dict[Path, tuple[StatKey, FileResult]] = {}
        self._last_scan: tuple | None = None
        self._last_structure: tuple | None = None
        self._last_deps: tuple = ()
        self._snapshot = _Snapshot(revision=0)
        self._code_revision = 0
        self._waiting: dict[Path, _CachedFile] = {}  # sources set aside by the checker as slow
        self._job_imports: dict[Path, tuple[StatKey, JobImport]] = {}
        self.on_late_change: Callable[[], None] | None = None
        """Called (no arguments, no lock held) when the catalogue changes outside `reload`:
        a slow module's late description, a job-environment import verdict."""
        if live is not None:
            live.on_late = self._late_description
        self._reload_files(force=False)  # syntax only: ready at once

    @property
    def revision(self) -> int:
        """+1 every time the content (commands JSON or errors) changes; 1 after the first read."""
        return self._snapshot.revision

    @property
    def commands_revision(self) -> int:
        """+1 every time the commands change (not when only `errors` do): what checks rest on."""
        return self._snapshot.commands_revision

    @property
    def code_revision(self) -> int:
        """+1 every time a source's content changes (what a module-importing worker follows)."""
        return self._code_revision

    @property
    def errors(self) -> list[dict]:
        """`[{"file", "line", "message"}]`: what could not be read (the COMMANDS:ERRORS PV)."""
        return [dict(e) for e in self._snapshot.errors]

    def reload(self, force: bool = False, live: bool = True) -> bool:
        """Re-read the command directories; return True if the catalogue changed.

        Only files whose size, modification time or inode changed are parsed again; when no
        file changed at all this costs one directory listing and one `stat` per file.
        `force` re-parses every file. With a `LiveChecker` and `live`, files not yet
        described by the checker are described now (`describe_pending`); the watcher
        passes `live=False` and describes afterwards, so the syntax view is published first.
        """
        changed = self._reload_files(force)
        if live and self.live is not None:
            changed = self.describe_pending() or changed
        return changed

    def _reload_files(self, force: bool) -> bool:
        """The syntax part of `reload`: re-read changed files and publish; True if changed."""
        with self._lock:
            scan = scan_sources(self.dirs)
            racy = any(c.racy for c in self._cache.values())
            if not force and not racy and scan == self._last_scan:
                return False
            if force:
                self._cache.clear()
            self._last_scan = scan
            if not self._refresh(scan) and self._snapshot.revision:
                return False  # only timestamps changed (a touch, a racy re-read)
            self._code_revision += 1
            return self._publish()

    def describe_pending(self) -> bool:
        """Ask the checker about every source not described yet; True if the catalogue changed.

        What is described is published at once (`on_late_change`, lock not held) while
        other modules still import; a module named slow is described when it finishes.
        """
        if self.live is None:
            return False
        with self._describing:
            with self._lock:
                pending = {p: c for p, c in self._cache.items() if c.live is None}
                requests = [self._live_request(p, c) for p, c in sorted(pending.items())]
            if not pending:
                return False
            changed = False

            def progress(answers: dict[str, dict]) -> None:
                nonlocal changed
                if self._apply_answers(pending, answers):
                    changed = True
                    if self.on_late_change is not None:
                        self.on_late_change()

            answers = self.live.describe(requests, progress=progress)
            none = {str(p): {"error": None, "names": {}} for p in pending if str(p) not in answers}
            return self._apply_answers(pending, none) or changed

    def _live_request(self, path: Path, cached: _CachedFile) -> dict:
        helpers = reexported_helpers(cached.result.reexports, path, self.dirs, self._dependency)
        return live_request(cached.result, path, live_module(path), helpers)

    def _apply_answers(self, pending: dict[Path, _CachedFile], answers: dict[str, dict]) -> bool:
        """Record the checker's answers for sources still as they were asked; publish."""
        with self._lock:
            for name, answer in answers.items():
                path = Path(name)
                cached = pending.get(path)
                if cached is None or self._cache.get(path) is not cached:
                    continue  # edited or deleted since: its new content is asked next
                cached.live = answer
                cached.stale = None
                if "after" in (answer.get("slow") or {}):
                    self._waiting[path] = cached
                elif self._waiting.get(path) is cached:
                    del self._waiting[path]
            return self._publish()

    def source_keys(self) -> dict[Path, StatKey]:
        """The stat key of every source's content now (for `note_job_import`)."""
        with self._lock:
            return {path: cached.key for path, cached in self._cache.items()}

    def note_job_import(self, path: Path, verdict: JobImport, key: StatKey) -> None:
        """Record how the job interpreter imported source `path` (the companion worker).

        `key`: the source's stat key when that import began (`source_keys`); a verdict about
        older content is ignored. Calls `on_late_change` if the catalogue changed.
        """
        path = Path(path)
        with self._lock:
            cached = self._cache.get(path)
            if cached is None or cached.key != key:
                return
            known = self._job_imports.get(path)
            if not verdict.done and known and known[0] == key and known[1].done:
                return  # "still importing" arriving after the import finished
            self._job_imports[path] = (key, verdict)
            changed = self._publish()
        if changed and self.on_late_change is not None:
            self.on_late_change()

    def _late_description(self, path: str, answer: dict) -> None:
        """The checker's answer for a module it had set aside as slow (checker thread)."""
        with self._lock:
            cached = self._cache.get(Path(path))
            if cached is None or self._waiting.get(Path(path)) is not cached:
                return  # edited or deleted since: a newer description is coming
            del self._waiting[Path(path)]
            cached.live = answer
            changed = self._publish()
        if changed and self.on_late_change is not None:
            self.on_late_change()

    def _publish(self) -> bool:
        """Build the snapshot from the cache (lock held); True if its content changed."""
        commands, errors = self._merge(self._last_scan or ())
        content = [commands[name].to_json() for name in sorted(commands)]
        old = self._snapshot
        if old.revision and content == old.json and errors == old.errors:
            return False
        commands_revision = old.commands_revision + (content != old.json or not old.revision)
        self._snapshot = _Snapshot(old.revision + 1, commands_revision, commands, content, errors)
        logger.info(
            "command catalogue revision %d: %d commands, %d errors",
            old.revision + 1,
            len(commands),
            len(errors),
        )
        return True

    def _merge(self, scan: tuple) -> tuple[dict[str, Command], list[dict]]:
        commands: dict[str, Command] = {}
        errors: list[dict] = []
        modules: dict[str, Path] = {}
        for index, name, key in scan:
            directory = self.dirs[index]
            if name is None:
                errors.append(file_error(directory, None, key))
                continue
            if name.startswith("+"):
                continue  # a file inside a package
            path = directory / name
            if len(key) == 1:
                errors.append(file_error(path, None, key[0]))
                continue
            stem = module_name(name)
            if stem in modules:
                errors.append(
                    file_error(
                        path,
                        None,
                        f"module '{stem}' is already provided by {modules[stem]} (earlier on "
                        "the command path, so a job imports that one); this file is ignored",
                    )
                )
                continue
            modules[stem] = path
            cached = self._cache[path]
            result = cached.result
            errors.extend(result.errors)
            file_commands = list(result.commands)
            if result.reexports:
                file_commands += reexported_commands(
                    result.reexports,
                    path,
                    stem,
                    self.dirs,
                    self._dependency,
                    sources=frozenset(self._cache),
                )
            live = cached.live if cached.live is not None else cached.stale
            if live is not None:
                file_commands = apply_live(file_commands, result, live, stem, path)
            job = self._job_imports.get(path)
            refusal, notes = import_verdicts(
                stem, path, cached.live, job[1] if job and job[0] == cached.key else None
            )
            if refusal:
                file_commands = [replace(c, import_error=refusal) for c in file_commands]
            errors.extend(notes)
            for command in file_commands:
                winner = commands.get(command.name)
                if winner is None:
                    commands[command.name] = command
                    continue
                errors.append(
                    file_error(
                        path,
                        command.line,
                        f"command '{command.name}' is also defined in {winner.path}:"
                        f"{winner.line}, which is used (the first command directory, then the "
                        "alphabetically first file, wins); this definition is ignored",
                    )
                )
        return commands, errors

    def _refresh(self, scan: tuple) -> bool:
        """Bring the file cache up to date; True if a file's result or the file set changed."""
        changed = False
        seen: set[Path] = set()
        deps = tuple(entry for entry in scan if entry[1] is not None and entry[1][0] == "+")
        if deps != self._last_deps:  # a file inside a package changed: read that package again
            changed_packages = {
                (index, name[1:].split("/")[0])
                for index, name, _ in set(deps) ^ set(self._last_deps)
            }
            self._last_deps = deps
            for index, package in changed_packages:
                root = self.dirs[index] / package
                self._cache.pop(root / "__init__.py", None)
                for path in [p for p in self._deps if root in p.parents]:
                    del self._deps[path]
        for index, name, key in scan:
            if name is None or len(key) == 1 or name[0] == "+":
                continue
            path = self.dirs[index] / name
            seen.add(path)
            changed = self._read(path, key, module_name(name)) or changed
        for path in set(self._cache) - seen:
            del self._cache[path]
            changed = True
        structure = tuple((i, n, k if n is None or len(k) == 1 else None) for i, n, k in scan)
        if structure != self._last_structure:
            self._last_structure = structure
            changed = True
        return changed

    def _read(self, path: Path, key: StatKey, module: str) -> bool:
        """Re-read `path` unless cached with this stat key; True if its result changed."""
        cached = self._cache.get(path)
        if cached is not None and cached.key == key and not cached.racy:
            return False
        result = read_command_file(path, module)
        racy = abs(time.time() - key[0] / 1e9) < RACY_SECONDS
        same = cached is not None and cached.result == result
        if same and cached is not None and cached.key == key:
            cached.racy = racy  # unchanged: the same entry, so a description in flight lands
            return False
        # the names the checker gave for the previous content are shown until it describes
        previous = (cached.live or cached.stale) if cached is not None else None
        stale = None if previous is None or previous.get("error") else previous
        self._cache[path] = _CachedFile(key, result, racy, None, stale)
        return not same

    def _dependency(self, path: Path) -> FileResult:
        """A file a package re-exports from, read once per content."""
        key = stat_key(path)
        cached = self._deps.get(path)
        if cached is None or cached[0] != key:
            cached = self._deps[path] = (key, read_command_file(path, path.stem))
        return cached[1]

    def sources(self) -> list[Path]:
        """Every source read: command files and package `__init__.py` files, sorted."""
        with self._lock:
            return sorted(self._cache)

    def get(self, name: str) -> Command | None:
        """The command called `name`, or None."""
        return self._snapshot.commands.get(name)

    def names(self) -> list[str]:
        """Every command name, sorted."""
        return sorted(self._snapshot.commands)

    def commands(self) -> list[Command]:
        """Every command, sorted by name."""
        snapshot = self._snapshot
        return [snapshot.commands[n] for n in sorted(snapshot.commands)]

    def to_json(self) -> list[dict]:
        """The COMMANDS PV content (pv-interface.md), sorted by name; JSON data only."""
        return self._snapshot.json

    def bind(self, name: str, args: list, kwargs: dict) -> dict[str, object]:
        """Bind arguments to command `name` and coerce them (see `binding`).

        Raises:
            BindError: unknown command, a command whose module cannot be imported, missing
                or unexpected argument, or a value that does not fit its parameter's type.
        """
        command = self._snapshot.commands.get(name)
        if command is None:
            raise BindError(unknown_command(name, self.names()))
        if command.import_error:
            raise BindError(f"{name}: {command.import_error}")
        return bind_arguments(command, args, kwargs)

    def job_commands(self) -> list[dict]:
        """`[{"name", "module", "path", "kind", "enum_params"}]`: what a job process needs."""
        return [c.job_entry() for c in self.commands()]
