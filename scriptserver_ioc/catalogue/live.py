"""What only importing a command module can tell, asked of a checker process.

The server never imports instrument code. For what the syntax tree cannot settle, the
catalogue starts the checker (`job/checker.py`, with the job interpreter, importing modules
exactly as a job does), asks it to `describe` the changed files and stops it again:

- does the module import at all? If not, the file, line and message go to
  `COMMANDS:ERRORS` and onto every command of the file (`import_error`), and a job using one
  of them is refused at submit with that message;
- names assigned from code (`scan = local_wrapper(_inst, "scan")`, decorator results,
  `locals()[name] = ...`): which are functions, with their signature and docstring;
- what a script definition's `get_help()` returns when it is built at run time.

The process runs genie_python in simulation (`GENIE_SIMULATE=1`), so module-level genie
calls (`g.get_blocks()` at import) touch no hardware while the catalogue looks; other
module-level code runs as it would in a job. A fresh process per reload, so an edited
module is imported anew. Only files whose content
changed are asked about; a reload with nothing changed asks nothing.
"""

from __future__ import annotations

import ast
import dataclasses
import logging
import queue
import time
from pathlib import Path

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
"""Seconds the checker may take to import and describe the changed modules."""


class LiveChecker:
    """Describes command modules in a checker process (see the module docstring).

    Args:
        python: the job interpreter.
        command_dirs: the command directories (put on `sys.path` as in a job).
        timeout: seconds allowed for one `describe` (imports included).
    """

    def __init__(self, python: str, command_dirs, timeout: float = DESCRIBE_TIMEOUT) -> None:
        self.python = python
        self.command_dirs = [str(d) for d in command_dirs]
        self.timeout = timeout

    def describe(self, items: list[dict]) -> dict[str, dict]:
        """`{path: {"error": {"line", "message"} | None, "names": {name: description}}}`.

        `items`: `{"module", "path", "names", "all", "exclude"}` per file. When the checker
        cannot answer (no interpreter, timeout, crash) every file gets that as its error.
        """
        if not items:
            return {}
        from scriptserver_ioc.validate.worker import CompanionError, Worker

        deadline = time.monotonic() + self.timeout
        try:
            worker = Worker(self.python, self.command_dirs)
        except CompanionError as exc:
            return _all_failed(items, str(exc))
        try:
            answer = None
            worker.send({"id": 1, "op": ops.DESCRIBE, "modules": items})
            while True:
                message = worker.receive(deadline)
                if message is None:
                    return _all_failed(items, "the checker " + worker.died_because())
                if message.get("ready"):
                    worker.started()
                    continue
                answer = message
                break
        except queue.Empty:
            return _all_failed(
                items, f"importing the module took longer than {self.timeout:g} s (checker)"
            )
        finally:
            worker.stop()
        if not answer.get("ok"):
            return _all_failed(items, str(answer.get("fatal") or "checker failed"))
        return {m["path"]: m for m in answer.get("modules") or [] if isinstance(m, dict)}


def _all_failed(items: list[dict], message: str) -> dict[str, dict]:
    logger.warning("command modules not checked: %s", message)
    return {i["path"]: {"error": {"line": None, "message": message}, "names": {}} for i in items}


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
) -> tuple[list[Command], list[dict]]:
    """The file's commands with the checker's answer applied, and its error entries.

    An import failure marks every command of the file (`import_error`) and becomes a
    COMMANDS:ERRORS entry; described names not resolved statically are added.
    """
    error = answer.get("error")
    if error:
        message = (
            f"module '{module}' cannot be imported by the job interpreter, so its commands "
            f"cannot run: {error.get('message')}"
        )
        entry = {"file": str(path), "line": error.get("line"), "message": message}
        return [dataclasses.replace(c, import_error=message) for c in commands], [entry]
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
    return commands + added, []


def _line(description: dict, path: Path, result) -> int:
    """The definition's line in this file, else that of its first import, else 1."""
    file, line = description.get("file"), description.get("line")
    if file and line and Path(file).resolve() == path.resolve():
        return int(line)
    return min((r.line for r in result.reexports), default=1)
