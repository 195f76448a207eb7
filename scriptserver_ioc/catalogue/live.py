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
nothing changed asks nothing. Each module is bounded (`SLOW_IMPORT`): one that blocks at
import is set aside and reported slow, and answers later (`LiveChecker.on_late`).
"""

from __future__ import annotations

import ast
import dataclasses
import logging
import queue
import threading
import time
from pathlib import Path
from typing import Callable

from scriptserver_ioc.catalogue.checker_process import CompanionError, Worker
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
from scriptserver_ioc.contract.protocols import checker as ops

logger = logging.getLogger(__name__)

DESCRIBE_TIMEOUT = 30.0
"""Seconds the checker may take to import and describe one module before it is stopped."""

SLOW_IMPORT = 3.0
"""Seconds after which a module still importing is reported slow and set aside: the rest
of the catalogue is described (and published) without waiting for it."""


class LiveChecker:
    """Describes command modules in a checker process (see the module docstring).

    One module per request, each bounded: a module whose import takes longer than
    `slow_after` is set aside (its process goes on importing it in the background, up to
    `timeout`) and the other modules are described by a fresh process, so one module that
    blocks at import (a PV read that times out) never holds back the catalogue. When a set
    aside module finishes, `on_late(path, answer)` receives its answer.

    Args:
        python: the job interpreter.
        command_dirs: the command directories (put on `sys.path` as in a job).
        timeout: seconds allowed for one module (its import included).
        slow_after: seconds after which a module is set aside as slow.
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
        self._set_aside: set = set()  # workers still importing a slow module
        self._closed = False

    def describe(self, items: list[dict]) -> dict[str, dict]:
        """`{path: {"error": {"line", "message"} | None, "names": {name: description}}}`.

        `items`: `{"module", "path", "names", "all", "exclude"}` per file. When the checker
        cannot answer (no interpreter, timeout, crash) the files concerned get that as their
        error. A module set aside as slow gets `{"slow": {"after": seconds}, "error": None,
        "names": {}}` now, and its real answer through `on_late` (with `"slow": {"seconds"}`).
        """
        answers: dict[str, dict] = {}
        worker = None
        try:
            for number, item in enumerate(items, 1):
                if worker is None:
                    try:
                        worker = self._started_worker()
                    except CompanionError as exc:
                        answers.update(_all_failed(items[number - 1 :], str(exc)))
                        break
                started = time.monotonic()
                worker.send({"id": number, "op": ops.DESCRIBE, "modules": [item]})
                try:
                    message = worker.receive(started + self.slow_after)
                except queue.Empty:
                    answers[item["path"]] = {
                        "error": None,
                        "names": {},
                        "slow": {"after": self.slow_after},
                    }
                    self._set_aside_worker(worker, item, started)
                    worker = None
                    continue
                answers[item["path"]] = _answer_of(message, item, worker)
                if message is None:
                    worker.stop()
                    worker = None
        finally:
            if worker is not None:
                worker.stop()
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

    def _set_aside_worker(self, worker, item: dict, started: float) -> None:
        """Let `worker` finish the slow `item` in a thread, then hand its answer on."""
        with self._lock:
            if self._closed:
                worker.stop()
                return
            self._set_aside.add(worker)

        def finish() -> None:
            try:
                message = worker.receive(started + self.timeout)
            except queue.Empty:
                message = {"ok": False, "fatal": _too_long(self.timeout)}
            seconds = round(time.monotonic() - started, 1)
            with self._lock:
                wanted = worker in self._set_aside
                self._set_aside.discard(worker)
            worker.stop()
            if not wanted or self.on_late is None:
                return
            answer = _answer_of(message, item, worker)
            answer["slow"] = {"seconds": seconds}
            try:
                self.on_late(item["path"], answer)
            except Exception:
                logger.exception("applying the late description of %s failed", item["path"])

        threading.Thread(target=finish, name="checker-slow-import", daemon=True).start()


def _too_long(timeout: float) -> str:
    return f"importing the module took longer than {timeout:g} s (checker)"


def _answer_of(message: dict | None, item: dict, worker) -> dict:
    """The description of `item` from the checker's answer to its request."""
    if message is None:
        return _all_failed([item], "the checker " + worker.died_because())[item["path"]]
    if not message.get("ok"):
        fatal = str(message.get("fatal") or "checker failed")
        return _all_failed([item], fatal)[item["path"]]
    for module in message.get("modules") or []:
        if isinstance(module, dict) and module.get("path") == item["path"]:
            return module
    return _all_failed([item], "the checker did not describe the module")[item["path"]]


def _all_failed(items: list[dict], message: str) -> dict[str, dict]:
    """Each item failed with `message`: the checker's failure, not one a job would meet."""
    logger.warning("command modules not checked: %s", message)
    error = {"line": None, "message": message, "structural": False}
    return {i["path"]: {"error": dict(error), "names": {}} for i in items}


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
