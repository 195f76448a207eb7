"""Read the commands of one source file from its syntax tree, never importing it.

Rules (docs/catalogue.md has the user-facing version):

- A command is a top-level `def` of the file (also inside top-level `if`/`try`/`with`),
  public (no leading `_`), synchronous, and listed in `__all__` when the file has a literal
  `__all__`; without `__all__` or markers, helpers (`helpers`) are left out. Classes,
  methods, nested functions and lambdas are not commands.
- Names made by assignment (`assigned`): aliases and partials of the file's functions and
  methods become commands here; re-exports are resolved by the catalogue (`packages`);
  other assigned or generated names are left to the checker process (`live`).
- If any top-level function of the file is marked `@usercommand` (or `f.is_usercommand =
  True`), only marked functions are commands. `f.is_hidden = True` hides one.
  `@helparglist("...")` (or `f.help_arglist = "..."`) gives the signature text.
- `estimate_<name>` / `validate_<name>` are companions of function `<name>` of the same
  file, not commands (`estimate_x` with no `x` in the file is an ordinary command).
- A generator function (a bluesky plan) is a command of kind `plan`: its job runs it on the
  instrument's RunEngine (docs/bluesky.md).
- A file with `class DoRun(ScriptDefinition)` is an ISIS script definition: one command
  named after the file (see `scriptdef`), and nothing else.
"""

from __future__ import annotations

import ast
import io
import keyword
import sys
import tokenize
from dataclasses import dataclass, field, replace
from pathlib import Path

from scriptserver_ioc.catalogue.assigned import Alias, ReExport, find_method, read_assignments
from scriptserver_ioc.catalogue.docstrings import parse_docstring
from scriptserver_ioc.catalogue.helpers import helper_functions
from scriptserver_ioc.catalogue.model import (
    FOUND_ALIAS,
    FOUND_DEF,
    FOUND_PARTIAL,
    FUNCTION,
    PLAN,
    Command,
)
from scriptserver_ioc.catalogue.module_scan import ModuleScan, scan_module, top_level
from scriptserver_ioc.catalogue.scriptdef import is_script_definition, read_script_definition
from scriptserver_ioc.catalogue.signature import (
    build_params,
    is_generator,
    param_nodes,
    signature_text,
)
from scriptserver_ioc.catalogue.typespec import read_enums

STDLIB_NAMES = frozenset(getattr(sys, "stdlib_module_names", ()))
"""Top-level module names of the standard library (Python 3.10+)."""

MAX_FILE_BYTES = 2_000_000
"""Command files larger than this are reported, not read."""


@dataclass
class FileResult:
    """The commands of one file and the problems found in it.

    Attributes:
        commands: commands resolved from the syntax tree.
        errors: COMMANDS:ERRORS entries of the file.
        live: public names assigned from code the tree cannot resolve (name -> line): the
            checker process describes them from the live module.
        live_aliases: those of `live` assigned without a call (`a = Imported.method`).
        generated: the file makes names in code (`locals()[name] = ...`): the checker lists
            every public function-like name of the live module not in `bound`.
        reexports: names imported from modules that may be instrument code.
        bound: names the file binds statically (defs, classes, imports, aliases, helpers).
        helpers: public functions left out as helpers, with the reason (`helpers` module's
            constants); a package re-exporting one may serve it (`packages`).
        helper_commands: those helpers as commands, for such a package.
    """

    commands: list[Command] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    live: dict[str, int] = field(default_factory=dict)
    live_aliases: list[str] = field(default_factory=list)
    generated: bool = False
    reexports: list[ReExport] = field(default_factory=list)
    bound: list[str] = field(default_factory=list)
    helpers: dict[str, str] = field(default_factory=dict)
    helper_commands: list[Command] = field(default_factory=list)


def file_error(path: Path, line: int | None, message: str) -> dict:
    """An entry of COMMANDS:ERRORS (`line` None when no line applies)."""
    return {"file": str(path), "line": line, "message": message}


def read_command_file(path: Path, module: str | None = None) -> FileResult:
    """Read the commands of `path` (a `.py` file) without importing or executing it.

    `module` is the name a job imports it by (default: the file's stem).
    """
    module = module or path.stem
    if not module.isidentifier() or keyword.iskeyword(module):
        msg = (
            f"'{path.name}' is not an importable module name; rename it to letters, digits "
            "and underscores (not starting with a digit) to make its commands available"
        )
        return FileResult(errors=[file_error(path, None, msg)])
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        return FileResult(errors=[file_error(path, None, f"cannot read file: {err.strerror}")])
    if len(data) > MAX_FILE_BYTES:
        msg = f"file is larger than {MAX_FILE_BYTES} bytes, the limit for a command file"
        return FileResult(errors=[file_error(path, None, msg)])
    text, error = _decode(data, path)
    notices = []
    if module in STDLIB_NAMES and path.name != "__init__.py":
        notices.append(
            file_error(
                path,
                None,
                f"'{path.name}' has the name of the standard-library module '{module}': its "
                f"commands are served (a job imports it as '{module}__commands'), but "
                f"'import {module}' in a job gives the standard library; rename it to import "
                "it by name",
            )
        )
    if error is not None:
        return FileResult(errors=[error])
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as err:
        msg = f"syntax error: {err.msg}"
        return FileResult(errors=[file_error(path, err.lineno, msg)])
    except (ValueError, RecursionError, MemoryError) as err:
        return FileResult(errors=[file_error(path, None, f"cannot parse file: {err}")])
    result = read_module(tree, path, module)
    result.errors = notices + result.errors
    return result


def _decode(data: bytes, path: Path) -> tuple[str, dict | None]:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as err:
        return "", file_error(path, None, f"bad encoding declaration: {err}")
    try:
        return data.decode(encoding), None
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        byte = data[err.start : err.start + 1].hex()
        msg = (
            f"file is not valid {encoding.upper()} (byte 0x{byte} at line {line}); save it as UTF-8"
        )
        return "", file_error(path, line, msg)


def read_module(tree: ast.Module, path: Path, module: str) -> FileResult:
    """The commands of a parsed module (see the module docstring for the rules)."""
    scan = scan_module(tree)
    enums = read_enums(scan.classes)
    if "DoRun" in scan.classes and is_script_definition(scan.classes["DoRun"]):
        command, errors = read_script_definition(scan.classes["DoRun"], path, module)
        return FileResult([command] if command else [], errors)
    assigned = read_assignments(list(top_level(tree.body)), scan.functions, scan.classes)
    helpers = helper_functions(tree.body, scan.functions, scan.classes)
    commands = [
        function_command(scan.functions[name], name, scan, enums, module, path)
        for name in command_names(scan, helpers)
    ]
    wanted = _published(scan, path)
    for alias in assigned.aliases:
        if wanted(alias.name) and alias.name not in scan.functions:
            command = _alias_command(alias, scan, enums, module, path)
            if command is not None:
                commands.append(command)
    result = FileResult(commands, [])
    result.live = {n: line for n, line in assigned.live.items() if wanted(n)}
    result.live_aliases = sorted(n for n in assigned.live_aliases if n in result.live)
    result.generated = assigned.generated and (scan.all_names is None or scan.all_dynamic)
    result.reexports = [
        r
        for r in assigned.reexports
        if r.name not in scan.functions
        and (wanted(r.name) if r.source != "*" else scan.all_names is None)
    ]
    result.bound = sorted(
        set(scan.functions)
        | set(scan.classes)
        | assigned.imported
        | set(helpers)
        | {a.name for a in assigned.aliases}
    )
    left_out = set(command_names(scan)) - {c.name for c in commands}  # by the helper rules
    result.helpers = {name: reason for name, reason in helpers.items() if name in left_out}
    result.helper_commands = [
        function_command(scan.functions[name], name, scan, enums, module, path)
        for name in result.helpers
    ]
    return result


def _published(scan: ModuleScan, path: Path):
    """Whether a name bound by assignment or import may be a command of the file."""

    def wanted(name: str) -> bool:
        if name.startswith("_") or name in scan.hidden or name in scan.classes:
            return False
        if scan.marked & set(scan.functions):
            return name in scan.marked
        return scan.all_dynamic or scan.all_names is None or name in scan.all_names

    return wanted


def function_command(
    fn: ast.FunctionDef,
    name: str,
    scan: ModuleScan,
    enums: dict,
    module: str,
    path: Path,
    line: int | None = None,
    found: str = FOUND_DEF,
    drop_first: int = 0,
    keywords: tuple[tuple[str, str], ...] = (),
) -> Command:
    """The command `name` made from function `fn` (a `def`, or what an alias names).

    `drop_first` leaves out leading parameters (`self`, arguments bound by a partial);
    `keywords` are parameters given a new default by `functools.partial` (source texts).
    """
    doc = parse_docstring(ast.get_docstring(fn))
    nodes = param_nodes(fn.args)[drop_first:]
    given = dict(keywords)
    nodes = [
        replace(
            n, default=ast.parse(given[n.arg.arg], mode="eval").body, default_text=given[n.arg.arg]
        )
        if n.arg.arg in given
        else n
        for n in nodes
    ]
    params = build_params(nodes, enums, doc)
    arglist = scan.arglists.get(fn.name)
    signature = f"{name}({arglist})" if arglist is not None else signature_text(name, nodes)
    enum_params = {p.name: p.spec.enum_name() for p in params if p.spec.enum_name()}
    target = fn.name
    return Command(
        name=name,
        module=module,
        path=path,
        line=line if line is not None else fn.lineno,
        kind=PLAN if is_generator(fn) else FUNCTION,
        params=params,
        has_estimate=f"estimate_{target}" in scan.functions,
        has_validate=f"validate_{target}" in scan.functions,
        description=doc.description,
        doc=doc.doc,
        signature=signature,
        enum_params=enum_params,  # type: ignore[arg-type]
        found=found,
    )


def _alias_command(alias: Alias, scan: ModuleScan, enums: dict, module: str, path: Path):
    if alias.target is not None:
        fn = scan.functions[alias.target]
        found = FOUND_PARTIAL if alias.partial else FOUND_ALIAS
        drop, keywords = alias.partial_args, alias.partial_keywords
    else:
        method = find_method(scan.classes, alias.cls or "", alias.method or "")
        if method is None:
            return None
        fn, found, drop, keywords = method, FOUND_ALIAS, 1 if alias.bound else 0, ()
    where = (module, path, alias.line, found)
    return function_command(fn, alias.name, scan, enums, *where, drop, keywords)


def command_names(scan: ModuleScan, helpers: dict[str, str] | None = None) -> list[str]:
    """Names of the functions of a scanned module that are commands, in file order.

    `helpers` (see `helpers.helper_functions`) are left out unless the file lists them in a
    literal `__all__` or marks them `@usercommand`.
    """
    helpers = helpers or {}
    explicit = scan.all_names is not None and not scan.all_dynamic
    candidates = [
        name
        for name in scan.functions
        if not name.startswith("_")
        and (scan.all_dynamic or scan.all_names is None or name in scan.all_names)
        and name not in scan.hidden
    ]
    if scan.marked & set(scan.functions):
        candidates = [name for name in candidates if name in scan.marked]
    elif not explicit:
        candidates = [name for name in candidates if name not in helpers]
    companions = {
        f"{prefix}_{name}"
        for name in scan.functions
        for prefix in ("estimate", "validate")
        if f"{prefix}_{name}" in scan.functions
    }
    return sorted(
        (n for n in candidates if n not in companions), key=lambda n: scan.functions[n].lineno
    )
