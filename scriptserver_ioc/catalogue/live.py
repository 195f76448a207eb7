"""What only importing a command module can tell, asked of a checker process.

The server never imports instrument code. For what the syntax tree cannot settle, the
catalogue starts the checker (`job/checker.py`, with the job interpreter, importing modules
exactly as a job does), asks it to `describe` the changed files and stops it again:

- does the module import at all? If not, the file, line and message go to
  `COMMANDS:ERRORS`, and a failure that a job would meet too (a missing module, bad
  syntax) goes onto every command of the file (`import_error`): a job using one of them is
  refused at submit with that message (`imports.import_verdicts`);
- names assigned from code (`scan = local_wrapper(_inst, "scan")`, decorator results,
  `locals()[name] = ...`): which are functions, with their signature and docstring;
- what a script definition's `get_help()` returns when it is built at run time.

The process runs genie_python in simulation (`GENIE_SIMULATE=1`), so module-level genie
calls (`g.get_blocks()` at import) touch no hardware while the catalogue looks; other
module-level code runs as it would in a job. A fresh process per reload, so an edited
module is imported anew. Only files whose content changed are asked about; a reload with
nothing changed asks nothing. A module that blocks at import holds back no other: the
checker notices it within about 50 ms and goes on with the rest in other threads
(`job/_describe_pool.py`, `describe_batch.py`); one still importing after `SLOW_IMPORT`
is reported slow and answers later (`LiveChecker.on_late`).
"""

from __future__ import annotations

import ast
import dataclasses
import queue
import threading
import time
from pathlib import Path
from typing import Callable

from scriptserver_ioc.catalogue.checker_process import CompanionError, Worker
from scriptserver_ioc.catalogue.describe_batch import DescribeBatch, failed
from scriptserver_ioc.catalogue.docstrings import help_text, parse_docstring
from scriptserver_ioc.catalogue.model import (
    FOUND_ALIAS,
    FOUND_GENERATED,
    KEYWORD_ONLY,
    SCRIPT_DEFINITION,
    VAR_KEYWORD,
    VAR_POSITIONAL,
    Command,
    Param,
)
from scriptserver_ioc.catalogue.typespec import ANY_TYPE, TypeSpec, type_from_annotation

DESCRIBE_TIMEOUT = 30.0
"""Seconds the checker may take to import and describe one module before it is stopped."""

SLOW_IMPORT = 3.0
"""Seconds after which a module still importing is reported slow and set aside: the rest
of the catalogue is described (and published) without waiting for it."""


class LiveChecker:
    """Describes command modules in a checker process (see the module docstring).

    One process per reload describes the changed modules. Inside it, a module that blocks
    at import is noticed within about 50 ms and the others go on in other threads
    (`job/_describe_pool.py`); one still importing after `slow_after` is named slow and
    the catalogue is published without it, so the time to a complete view does not grow
    with the number of modules that block. The process stays until the slow modules are
    described (each within `timeout`), and `on_late(path, answer)` receives each.

    Args:
        python: the job interpreter.
        command_dirs: the command directories (put on `sys.path` as in a job).
        timeout: seconds allowed for one module (its import included).
        slow_after: seconds after which a module still importing is named slow.
    """

    def __init__(
        self,
        python: str,
        command_dirs,
        timeout: float = DESCRIBE_TIMEOUT,
        slow_after: float = SLOW_IMPORT,
    ) -> None:
        self.python = python
        self.command_dirs = [str(d) for d in command_dirs]
        self.timeout = timeout
        self.slow_after = min(slow_after, timeout)
        self.on_late: Callable[[str, dict], None] | None = None
        self._lock = threading.Lock()
        self._set_aside: set = set()  # workers still importing slow modules
        self._closed = False

    def describe(
        self,
        items: list[dict],
        again: bool = True,
        progress: Callable[[dict], None] | None = None,
    ) -> dict[str, dict]:
        """`{path: {"error": {"line", "message"} | None, "names": {name: description}}}`.

        `items`: `{"module", "path", "names", "all", "exclude"}` per file. When the checker
        cannot answer (no interpreter, crash) the files concerned get that as their error.
        A module named slow gets `{"slow": {"after": seconds}, "error": None, "names": {}}`
        now, and its real answer through `on_late` (with `"slow": {"seconds"}`). A module
        that failed while others were importing is described again by a fresh process
        alone (`again`), so that concurrency never changes a verdict. `progress(answers)`
        receives the answers as they come (see `DescribeBatch.collect`), each before any
        late answer of the same module.
        """
        if not items:
            return {}
        try:
            worker = self._started_worker()
        except CompanionError as exc:
            answers = failed(items, str(exc))
            if progress is not None:
                progress(answers)
            return answers
        batch = DescribeBatch(worker, items, self.slow_after, self.timeout, again)
        try:
            batch.collect(progress)
        except BaseException:
            worker.stop()
            raise
        answers = batch.answers
        if batch.waiting and self._keep_aside(worker):
            batch.finish_slow(self._late, lambda: self._wanted(worker))
        else:
            worker.stop()
        if batch.leftover:
            if len(batch.leftover) < len(items):
                answers.update(self.describe(batch.leftover, again, progress))
            else:  # the process did not start any of them: another would do the same
                stopped = failed(batch.leftover, "the checker stopped before them")
                answers.update(stopped)
                if progress is not None:
                    progress(stopped)
        if batch.retry:
            answers.update(self.describe(batch.retry, False, progress))
        return answers

    def close(self) -> None:
        """Stop the processes still importing slow modules (no late answers after this)."""
        with self._lock:
            self._closed = True
            workers, self._set_aside = list(self._set_aside), set()
        for worker in workers:
            worker.stop()

    def _started_worker(self):
        """A checker process that said it is ready (waits up to `timeout`)."""
        worker = Worker(self.python, self.command_dirs)
        try:
            hello = worker.receive(time.monotonic() + self.timeout)
        except queue.Empty:
            worker.stop()
            raise CompanionError(f"the checker did not start within {self.timeout:g} s") from None
        if not hello or not hello.get("ready"):
            reason = worker.died_because()
            worker.stop()
            raise CompanionError("the checker " + reason)
        worker.started()
        return worker

    def _keep_aside(self, worker) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._set_aside.add(worker)
            return True

    def _wanted(self, worker) -> bool:
        with self._lock:
            return worker in self._set_aside

    def _late(self, path: str, answer: dict) -> None:
        if self.on_late is not None:
            self.on_late(path, answer)


def live_command(
    name: str,
    module: str,
    path: Path,
    line: int,
    description: dict,
    found: str = FOUND_GENERATED,
) -> Command:
    """A command described by the checker from the live object."""
    doc = parse_docstring(description.get("doc") or None)
    params = tuple(_param(p, doc) for p in description.get("params") or [])
    return Command(
        name=name,
        module=module,
        path=path,
        line=line,
        params=params,
        description=doc.description,
        doc=doc.doc,
        signature=_signature(name, description.get("params") or []),
        found=found,
    )


def _param(entry: dict, doc) -> Param:
    name = str(entry.get("name"))
    kind = str(entry.get("kind") or "positional_or_keyword")
    annotation = entry.get("annotation")
    spec = _spec(annotation)
    has_default = "default" in entry or "default_text" in entry
    pdoc = doc.params.get(name)
    type_text, type_source = (annotation, "annotation") if annotation else (None, None)
    if type_text is None and pdoc is not None and pdoc.type_name:
        type_text, type_source = pdoc.type_name, "docstring"
    return Param(
        name=name,
        kind=kind,
        type=type_text,
        type_source=type_source,
        required=not has_default and kind not in (VAR_POSITIONAL, VAR_KEYWORD),
        has_default=has_default,
        default=entry["default"] if "default" in entry else entry.get("default_text"),
        default_expression="default_text" in entry,
        description=pdoc.description if pdoc else "",
        spec=spec,
    )


def _spec(annotation: str | None) -> TypeSpec:
    if not annotation:
        return ANY_TYPE
    try:
        node = ast.parse(annotation, mode="eval").body
    except SyntaxError:
        return ANY_TYPE
    return type_from_annotation(node, {}, annotation)


def _signature(name: str, entries: list[dict]) -> str:
    """`name(a, /, b: int = 1, *, c, **kw)` from the checker's parameter entries."""
    parts: list[str] = []
    kinds = [str(e.get("kind")) for e in entries]
    for i, entry in enumerate(entries):
        kind = kinds[i]
        if kind == KEYWORD_ONLY and "var_positional" not in kinds[:i] and "*" not in parts:
            parts.append("*")
        prefix = {"var_positional": "*", "var_keyword": "**"}.get(kind, "")
        text = prefix + str(entry.get("name"))
        if entry.get("annotation"):
            text += f": {entry['annotation']}"
        if "default" in entry or "default_text" in entry:
            value = entry["default_text"] if "default_text" in entry else repr(entry["default"])
            text += f" = {value}" if entry.get("annotation") else f"={value}"
        parts.append(text)
        if kind == "positional_only" and (i + 1 == len(entries) or kinds[i + 1] != kind):
            parts.append("/")
    return f"{name}({', '.join(parts)})"


def live_module(path: Path) -> str:
    """The module name the checker imports a source as (a package's `__init__.py`: its own)."""
    return path.parent.name if path.name == "__init__.py" else path.stem


def live_request(result, path: Path, module: str, exclude: set[str] = frozenset()) -> dict:
    """The `describe` item of one source (`result`: its `FileResult`).

    `exclude`: further names that are not commands (helpers of re-exported modules).
    """
    return {
        "module": module,
        "path": str(path),
        "names": sorted(result.live),
        "all": bool(result.generated)
        or path.name == "__init__.py"
        or any(r.source == "*" for r in result.reexports),
        "exclude": sorted(set(result.bound) | {c.name for c in result.commands} | exclude),
        "help": any(c.kind == SCRIPT_DEFINITION for c in result.commands),
    }


def apply_live(
    commands: list[Command], result, answer: dict, module: str, path: Path
) -> list[Command]:
    """The file's commands with the checker's answer applied: names made in code added.

    A module that failed to import adds nothing (`imports.import_verdicts` reports it and
    decides whether its jobs are refused).
    """
    if answer.get("error"):
        return commands
    help_text_ = answer.get("help")
    if isinstance(help_text_, str) and help_text_.strip():
        info = help_text(help_text_)
        commands = [
            dataclasses.replace(c, description=info.description, doc=info.doc)
            if c.kind == SCRIPT_DEFINITION
            else c
            for c in commands
        ]
    known = {c.name for c in commands}
    added = [
        live_command(
            name,
            module,
            path,
            result.live.get(name) or _line(desc, path, result),
            desc,
            FOUND_ALIAS if name in result.live_aliases else FOUND_GENERATED,
        )
        for name, desc in sorted((answer.get("names") or {}).items())
        if name not in known and isinstance(desc, dict)
    ]
    return commands + added


def _line(description: dict, path: Path, result) -> int:
    """The definition's line in this file, else that of its first import, else 1."""
    file, line = description.get("file"), description.get("line")
    if file and line and Path(file).resolve() == path.resolve():
        return int(line)
    return min((r.line for r in result.reexports), default=1)
