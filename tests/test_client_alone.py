"""The client package stands alone: its import graph reaches no server module.

Walks every import statement of `scriptserver_ioc.client` (module level and inside
functions, so a lazy import is caught before a user's console ever runs it), following
imports into the rest of `scriptserver_ioc`, and checks that the third-party packages it
reaches are declared (setup.cfg `install_requires`, or the `plot` extra for matplotlib)
and are exactly what the README's console-only install line (`pip install --no-deps ...`)
installs.
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scriptserver_ioc"
SERVER_PARTS = ("ioc", "core", "runner", "validate", "store", "catalogue", "job", "nicos")
DISTRIBUTIONS = {
    "epics": "pyepics",
    "numpy": "numpy",
    "rich": "rich",
    "matplotlib": "matplotlib",
    "orjson": "orjson",
}
OPTIONAL = {"matplotlib", "orjson"}
"""Distributions the client uses only when installed (its optional extras)."""


def _module_file(name: str) -> Path | None:
    parts = name.split(".")[1:]
    base = PACKAGE.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(name: str, path: Path) -> set[str]:
    """Absolute names of every module `path` (module `name`) imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            # `from ..contract import pvtable` imports a module, not a name
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if not m.startswith("scriptserver_ioc") or _module_file(m)}


def client_import_graph() -> set[str]:
    """Every module reachable from the client's modules (project and third-party)."""
    todo = [f"scriptserver_ioc.client.{p.stem}" for p in (PACKAGE / "client").glob("*.py")]
    todo = [m.removesuffix(".__init__") for m in todo]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name) if name.startswith("scriptserver_ioc") else None
        if path is not None:
            todo.extend(_imports(name, path) - seen)
            parent = name.rpartition(".")[0]
            if parent and parent not in seen:
                todo.append(parent)  # importing a.b.c runs a/__init__ and a/b/__init__
    return seen


def test_GIVEN_client_package_WHEN_import_graph_walked_THEN_no_server_module_reached():
    graph = client_import_graph()
    ours = {m for m in graph if m.startswith("scriptserver_ioc")}
    assert "scriptserver_ioc.client.cli" in ours and "scriptserver_ioc.contract.pvtable" in ours
    server = sorted(m for m in ours if m.split(".")[1:2] and m.split(".")[1] in SERVER_PARTS)
    assert server == []


def test_GIVEN_client_package_WHEN_third_party_imports_listed_THEN_each_declared():
    graph = client_import_graph()
    stdlib = set(sys.stdlib_module_names)
    third = {m.split(".")[0] for m in graph} - stdlib - {"scriptserver_ioc", "__future__"}
    assert third == set(DISTRIBUTIONS), "a new client dependency: declare it in setup.cfg"
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    required = _names(config["options"]["install_requires"])
    extras = config["options.extras_require"]
    assert {"pyepics", "numpy", "rich"} <= required
    assert "matplotlib" in _names(extras["plot"])
    assert "orjson" in _names(extras["fast"])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (line,) = re.findall(r"`pip install --no-deps scriptserver_ioc ([^`]*)`", readme)
    console_only = set(line.split())
    assert console_only == {DISTRIBUTIONS[m] for m in third} - OPTIONAL
    assert "pcaspy" in required and not console_only & {"pcaspy", "psutil"}


def test_GIVEN_a_server_module_imported_inside_a_function_WHEN_walked_THEN_found(tmp_path):
    module = tmp_path / "lazy.py"
    module.write_text(
        "def f():\n    from ..core import server\n    from ..contract import pvtable\n"
    )
    found = _imports("scriptserver_ioc.client.lazy", module)
    assert {"scriptserver_ioc.core.server", "scriptserver_ioc.contract.pvtable"} <= found


def _names(requirements: str) -> set[str]:
    return {re.split(r"[<>=!~;\[ ]", line.strip())[0] for line in requirements.split("\n") if line}
