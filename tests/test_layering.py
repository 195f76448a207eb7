"""The layering, written as a test: what `core/` and `job/` may import and call.

- `core/` decides and does no I/O: it imports the standard library (less the modules that
  reach disks, sockets, processes and databases), `contract/`, itself, and the one rule it
  shares with job processes (`job/script_edit.py`); it calls no `open`, `os.stat`, disk
  method of a path (`read_text`, `stat`, `exists`...) or thread: files, time and the store
  come through its ports (`core/ports.py`). It names no PV: it imports no PV table and no
  string of its code is a PV name (the edges decode writes into its typed calls).
- `job/` runs inside the user's job process: the standard library, its own modules, and
  the instrument libraries a job may use (imported where used); nothing else of this
  package.
- No package of `scriptserver_ioc` imports, directly or through others, one that imports
  it back (the packages form layers).
- No module has more than `MAX_MODULE_LINES` lines (small, clear modules).

Each rule reads the syntax trees of the source, so it fails on the first import or call
outside the allowed set, naming the file and line.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "scriptserver_ioc"
STDLIB = set(sys.stdlib_module_names)

CORE_FORBIDDEN_STDLIB = {
    "sqlite3",
    "socket",
    "subprocess",
    "multiprocessing",
    "asyncio",
    "selectors",
    "select",
    "shutil",
    "tempfile",
    "mmap",
    "urllib",
    "http",
    "ssl",
}
"""Standard modules that reach the world: the core gets what it needs through its ports."""

MAX_MODULE_LINES = 400
"""The longest a module of the package may be: past it, split it into cohesive modules."""

CORE_PACKAGE_IMPORTS = {"contract", "core", "job.script_edit"}
"""What of this package the core may import (job.script_edit: the edit rule jobs share)."""

CORE_FORBIDDEN_CONTRACT = {
    "contract.pvtable",
    "contract.pvmodel",
    "contract.pvspecs",
    "contract.pvcontrols",
    "contract.pvslots",
}
"""The PV table: the core names no PV (the edges decode writes into its typed calls)."""

CORE_FORBIDDEN_CALLS = {
    ("open",): "files come through the JobFiles port",
    ("os", "stat"): "files come through the JobFiles port",
    ("threading", "Thread"): "background work comes through the Timers port",
    ("threading", "Timer"): "timers come through the Timers port",
}

CORE_FORBIDDEN_METHODS = {
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "stat",
    "lstat",
    "is_file",
    "is_dir",
    "exists",
    "iterdir",
    "glob",
    "rglob",
    "mkdir",
    "unlink",
    "rmdir",
    "open",
}
"""Methods that reach the disk (`Path`'s and `os`'s): script files are read through the
`JobFiles` port, off the core lock, and the text is carried in the job."""

JOB_LIBRARIES = {
    "genie_python",
    "genie",
    "bluesky",
    "ophyd",
    "ophyd_async",
    "ibex_bluesky_core",
    "matplotlib",
    "numpy",
    "caproto",
    "epics",
}
"""Instrument libraries a job may use; job/ imports them only where they are used."""


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).glob("*.py"))


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    """The dotted name (within scriptserver_ioc) a relative import refers to."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    base = parts[: len(parts) - node.level]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, module, inside the package) of every import of a module's syntax tree."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, False) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                module = _absolute(path, node)
                names = [f"{module}.{alias.name}" if module else alias.name for alias in node.names]
                found += [(node.lineno, name, True) for name in names]
            elif node.module.startswith("scriptserver_ioc"):
                found.append((node.lineno, node.module.partition(".")[2], True))
            else:
                found.append((node.lineno, node.module, False))
    return found


def _core_may_import(module: str, inside: bool) -> bool:
    if inside:
        if any(module == no or module.startswith(no + ".") for no in CORE_FORBIDDEN_CONTRACT):
            return False
        return any(
            module == allowed or module.startswith(allowed + ".")
            for allowed in CORE_PACKAGE_IMPORTS
        ) or module in {"__version__"}
    top = module.partition(".")[0]
    return top in STDLIB and top not in CORE_FORBIDDEN_STDLIB


def _called(node: ast.Call) -> tuple[str, ...]:
    func, names = node.func, []
    while isinstance(func, ast.Attribute):
        names.insert(0, func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        names.insert(0, func.id)
    return tuple(names)


@pytest.mark.parametrize("path", _modules("core"), ids=lambda p: p.name)
def test_GIVEN_core_module_THEN_imports_only_stdlib_contract_and_core(path):
    wrong = [
        f"{path.name}:{line}: imports {module}"
        for line, module, inside in _imports(path)
        if not _core_may_import(module, inside)
    ]
    assert not wrong, "core/ does no I/O of its own (core/ports.py):\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", _modules("core"), ids=lambda p: p.name)
def test_GIVEN_core_module_THEN_calls_no_file_or_thread(path):
    wrong = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            called = _called(node)
            if called in CORE_FORBIDDEN_CALLS:
                why = CORE_FORBIDDEN_CALLS[called]
                wrong.append(f"{path.name}:{node.lineno}: {'.'.join(called)}(): {why}")
            elif isinstance(node.func, ast.Attribute) and node.func.attr in CORE_FORBIDDEN_METHODS:
                why = "the disk is reached through the JobFiles port"
                wrong.append(f"{path.name}:{node.lineno}: {'.'.join(called)}(): {why}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", _modules("job"), ids=lambda p: p.name)
def test_GIVEN_job_module_THEN_imports_only_stdlib_its_own_and_instrument_libraries(path):
    own = {p.stem for p in _modules("job")}
    wrong = []
    for line, module, inside in _imports(path):
        top = module.partition(".")[0]
        if inside:
            ok = module.startswith("job.") or module == "job"
        else:
            ok = top in STDLIB or top in own or top in JOB_LIBRARIES
        if not ok:
            wrong.append(f"{path.name}:{line}: imports {module}")
    assert not wrong, "job/ runs in the user's process (standard library only):\n" + "\n".join(
        wrong
    )


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) < 2:
            continue  # top-level modules (app.py, config.py, ...) wire the packages
        for _, module, inside in _imports(path):
            target = module.partition(".")[0]
            if inside and target != rel.parts[0] and (PACKAGE / target).is_dir():
                graph[rel.parts[0]].add(target)
    return graph


def test_GIVEN_packages_THEN_no_package_reaches_itself_through_others():
    graph = _package_graph()
    cycles = []
    for start in sorted(graph):
        seen, todo = set(), list(graph[start])
        while todo:
            package = todo.pop()
            if package == start:
                cycles.append(start)
                break
            if package not in seen:
                seen.add(package)
                todo.extend(graph.get(package, ()))
    assert not cycles, f"packages in an import circle: {cycles}; edges: {dict(graph)}"


def _pv_name_pattern() -> re.Pattern[str]:
    """Any PV name of the contract's table, as a whole word (``QUEUE:ADD``, ``ABORT``)."""
    from scriptserver_ioc.contract.pvtable import ALL_PVS

    names = sorted({pv.name for pv in ALL_PVS}, key=len, reverse=True)
    return re.compile(
        r"(?<![A-Za-z0-9_:])(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z0-9_:])"
    )


@pytest.mark.parametrize("path", _modules("core"), ids=lambda p: p.name)
def test_GIVEN_core_module_THEN_no_string_names_a_pv(path):
    """The core speaks of jobs, the queue and the run, not of PVs: the edges name those.

    Every string of the code counts (messages, keys, comparisons); docstrings do not, since
    they may say which PV a call serves. The texts of the contract that point a client to
    a PV are in `contract/texts.py`.
    """
    pattern = _pv_name_pattern()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    wrong = [
        f"{path.name}:{node.lineno}: {found.group(1)!r} in {node.value[:60]!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and (found := pattern.search(node.value))
    ]
    assert not wrong, "core/ names no PV (the edges do):\n" + "\n".join(wrong)


def test_GIVEN_package_modules_THEN_each_under_the_line_limit():
    lengths = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(PACKAGE.rglob("*.py"))
    }
    assert lengths, f"no modules found under {PACKAGE}"
    too_long = [f"{name}: {n} lines" for name, n in lengths.items() if n > MAX_MODULE_LINES]
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines (split them):\n" + "\n".join(
        too_long
    )
