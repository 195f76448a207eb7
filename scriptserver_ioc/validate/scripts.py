"""Checks of script text (scripts and file jobs) and the names a job namespace defines.

No user code runs here except, once, listing what the prelude's star imports bind (asked of
the job interpreter through the companion worker).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from scriptserver_ioc.contract import limits
from scriptserver_ioc.validate import attributes, calls, command_jobs, static
from scriptserver_ioc.validate.companions import CompanionError, CompanionRunner

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = limits.MAX_SCRIPT_FILE_BYTES
_CACHE_SIZE = 128
_DIGESTS_KEPT = 1000
#: Names every job namespace has besides commands and the prelude's.
JOB_NAMES = frozenset({"scriptserver"})


def read_script_file(scripts_dir: Path | None, name: Any) -> tuple[str, Path]:
    """Text and path of a ``file`` job's script.

    Raises:
        ValueError: no scripts directory, a path that is absolute or leaves the directory, a
            missing, unreadable, oversized or non-UTF-8 file; the message says which.
    """
    path = script_file_path(scripts_dir, name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"the file {name!r} cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"the file {name!r} is larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8"), path
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"the file {name!r} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None


def script_file_path(scripts_dir: Path | None, name: Any) -> Path:
    """The path of a ``file`` job's script, without reading it.

    Raises:
        ValueError: no scripts directory, a path that is absolute, leaves the directory or
            names no file.
    """
    if scripts_dir is None:
        raise ValueError("no scripts directory is configured, so 'file' jobs cannot run")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("'file' must be a path relative to the scripts directory")
    if Path(name).is_absolute():
        raise ValueError(
            f"the file {name!r} is an absolute path; give a path relative to the scripts "
            f"directory {scripts_dir}"
        )
    path = (scripts_dir / name).resolve()
    if path != scripts_dir and scripts_dir not in path.parents:
        raise ValueError(f"the file {name!r} is outside the scripts directory {scripts_dir}")
    if not path.is_file():
        raise ValueError(f"the file {name!r} does not exist in the scripts directory {scripts_dir}")
    return path


class FileDigests:
    """Digests of script files as they are on disk, read again only when a file changed.

    A ``stat`` per call while a file's size and modification time stay the same; thread-safe.

    Args:
        scripts_dir: the scripts directory (None: no file jobs).
    """

    def __init__(self, scripts_dir: Path | None) -> None:
        self.scripts_dir = scripts_dir
        self._known: dict[Path, tuple[tuple[int, int], str]] = {}
        self._lock = threading.Lock()

    def digest(self, name: Any) -> str:
        """sha256 (16 hex digits) of the file's bytes, or ``missing`` if it cannot be read."""
        try:
            path = script_file_path(self.scripts_dir, name)
            info = path.stat()
        except (ValueError, OSError):
            return "missing"
        signature = (info.st_mtime_ns, info.st_size)
        with self._lock:
            known = self._known.get(path)
        if known is not None and known[0] == signature:
            return known[1]
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        except OSError:
            return "missing"
        with self._lock:
            if len(self._known) >= _DIGESTS_KEPT:
                self._known.clear()
            self._known[path] = (signature, digest)
        return digest


class ScriptChecks:
    """Static checks of script text against the catalogue and the prelude; cached.

    Not thread-safe on its own: the Validator calls it under its lock.

    Args:
        catalogue: the command catalogue (``names``, ``bind``, ``revision``), or None.
        companions: used once to list the names of the prelude's star imports.
        prelude_source: the prelude's text.
        extra_names: more names the job namespace defines.
    """

    def __init__(
        self,
        catalogue: Any,
        companions: CompanionRunner | None,
        prelude_source: str | None,
        extra_names: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        self.catalogue = catalogue
        self.companions = companions
        self._cache: OrderedDict[tuple, tuple[list, list, list]] = OrderedDict()
        self._names_revision: object = None
        self._known: frozenset[str] = frozenset()
        self._command_names: frozenset[str] = frozenset()
        self._prelude_names, self._prelude_stars, self.prelude_problem = _read_prelude(
            prelude_source
        )
        self._extra = frozenset(extra_names) | JOB_NAMES
        self._star_names: frozenset[str] | None = None if self._prelude_stars else frozenset()
        self._prelude_imports = _prelude_imports(prelude_source)
        self._attributes: dict[str, attributes.ModuleNames | None] = {}  # by module

    def check(self, source: str) -> tuple[list[dict], list[str], list]:
        """Errors, warnings and companion checks still to make of script text.

        Cached by text and catalogue revision. The third item lists the literal calls of
        catalogue commands that bound and have a ``validate_``/``parameters_valid``
        (``command_jobs.ScriptCall``); empty when the script has errors.
        """
        self._refresh_names()
        digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest()
        key = (digest, self._names_revision)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._static_checks(source)
            self._cache[key] = cached
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        errors, warnings, checks = cached
        return [dict(e) for e in errors], list(warnings), list(checks)

    def _static_checks(self, source: str) -> tuple[list, list, list]:
        facts, errors = static.analyse(source)
        if facts is None:
            return errors, [], []
        warnings: list[str] = []
        if self._star_names is not None and self.prelude_problem is None:
            warnings += static.undefined_name_warnings(facts, self._known)
        warnings += static.bare_except_warnings(facts)
        refused, unsure = attributes.unknown_attribute_findings(
            facts, self._attributes_of, self._prelude_imports
        )
        errors += refused
        warnings += unsure
        found = calls.literal_command_calls(facts, self._command_names)
        refused, bound_calls = command_jobs.bind_script_calls(self.catalogue, found)
        errors += refused
        if errors:
            return errors, warnings, []
        checks = command_jobs.script_call_checks(self.catalogue, self.companions, bound_calls)
        return errors, warnings, checks

    def _attributes_of(self, module: str) -> attributes.ModuleNames | None:
        """What is known of `module`'s attributes (cached per catalogue revision)."""
        if module not in self._attributes:
            self._attributes[module] = attributes.module_names(self.companions, module)
        return self._attributes[module]

    def _refresh_names(self) -> None:
        """Known names: commands (per catalogue revision), prelude, star imports, extras."""
        revision = self.catalogue.revision if self.catalogue is not None else None
        if revision == self._names_revision and self._known:
            return
        self._attributes.clear()  # the instrument's `inst` module may have changed
        if self._star_names is None:
            # any warm worker will do: the prelude's modules are not command sources
            self._star_names = self._resolve_stars(None)
        self._command_names = frozenset(self.catalogue.names()) if self.catalogue else frozenset()
        self._known = (
            self._command_names
            | self._prelude_names
            | (self._star_names or frozenset())
            | self._extra
        )
        self._names_revision = revision

    def _resolve_stars(self, revision: object) -> frozenset[str] | None:
        """Names the prelude's star imports bind, asked of the job interpreter; None if unknown."""
        if self.companions is None:
            logger.info(
                "the prelude star-imports %s; undefined-name warnings are off", self._prelude_stars
            )
            return None
        names: set[str] = set()
        for module in self._prelude_stars:
            try:
                names.update(self.companions.module_names(module, revision=revision))
            except CompanionError as exc:
                logger.warning(
                    "cannot list the names of %s (%s); undefined-name warnings are off", module, exc
                )
                return None
        return frozenset(names)


def _read_prelude(prelude_source: str | None) -> tuple[frozenset[str], list[str], str | None]:
    """Top-level names and star imports of the prelude, or the reason it cannot be read."""
    if not prelude_source:
        return frozenset(), [], None
    try:
        names, stars = static.top_level_names(prelude_source)
    except SyntaxError as exc:
        problem = f"the prelude does not compile (line {exc.lineno}: {exc.msg})"
        logger.error("%s; undefined-name warnings are off", problem)
        return frozenset(), [], problem
    return frozenset(names), stars, None


def _prelude_imports(prelude_source: str | None) -> dict[str, set[str]]:
    """Modules the prelude binds to names by import (`g` for genie_python's genie)."""
    if not prelude_source:
        return {}
    facts, problems = static.analyse(prelude_source, "<prelude>")
    return dict(facts.imports) if facts is not None and not problems else {}
