"""Unknown attributes of genie_python and the instrument's `inst` module, found statically.

`g.waitfor_uamp(40)` (a typo of `g.waitfor_uamps`) would stop a script with an
AttributeError when it reaches that line, maybe hours into the night. The names these
modules have can be known before the script runs, and how well decides what is said:

- **refused at submit** when the names come from the module the jobs will import: the job
  interpreter imports it and lists them (`dir` and a package's submodules, asked of the
  companion worker once per catalogue revision), and the module makes no names on demand
  (no module-level `__getattr__`). A name it lacks is then an AttributeError in the job.
- **a warning** otherwise: genie_python is not importable by the job interpreter (the demo
  runs without it), so the names are genie_python 26.x's list (`suggestions.GENIE_NAMES`)
  and the genie_python on the instrument may be newer; or the module has a `__getattr__`.
- **nothing** when nothing is known (the job interpreter cannot import `inst`).

Checked: genie_python's `genie` (however it is imported or aliased: `from genie_python import
genie as g`, `import genie_python.genie as genie`, or by the prelude) and the instrument
scripts module `inst`. A name that is also assigned in the script (`g = ...`) is not
checked, nor private attributes (`g._genie_api`), nor attributes the script sets itself
(`g.my_helper = ...`).
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from scriptserver_ioc.catalogue.checker_process import CompanionError
from scriptserver_ioc.validate import suggestions
from scriptserver_ioc.validate.static import ScriptFacts, error

logger = logging.getLogger(__name__)

GENIE = "genie_python.genie"
CHECKED = {GENIE: "genie_python's genie module", "inst": "the inst module"}
"""Modules whose attributes are checked, and how messages name them."""


@dataclass(frozen=True)
class ModuleNames:
    """What is known of one module's attributes.

    Attributes:
        names: the attribute names.
        exact: listed by the job interpreter from the module jobs import, which makes no
            names on demand: a name not among them is an AttributeError in a job.
        source: how messages name where the names come from.
    """

    names: frozenset[str]
    exact: bool
    source: str


def module_names(companions: Any, module: str) -> ModuleNames | None:
    """What is known of `module`'s attributes (`companions`: a CompanionRunner or None)."""
    problem = "no companion worker"
    if companions is not None:
        try:
            names = frozenset(companions.module_attributes(module))
        except CompanionError as exc:
            problem = str(exc)
        else:
            if "__getattr__" in names:
                source = f"{CHECKED[module]} (which makes names on demand) lists"
                return ModuleNames(names, False, source)
            return ModuleNames(names, True, f"{CHECKED[module]} has")
    logger.info("attributes of %s are not known from the job interpreter: %s", module, problem)
    if module == GENIE:
        source = (
            "genie_python 26.x's genie module (the job interpreter here cannot import "
            "genie_python; the instrument's may be newer) has"
        )
        return ModuleNames(suggestions.GENIE_NAMES, False, source)
    return None


def unknown_attribute_findings(
    facts: ScriptFacts,
    names_of: Callable[[str], ModuleNames | None],
    prelude_imports: Mapping[str, set[str]] | None = None,
) -> tuple[list[dict], list[str]]:
    """Errors (`{"line", "col", "message"}`) and warnings for `alias.name` of unknown names.

    Args:
        facts: the script's facts (`static.analyse`).
        names_of: what is known of a module's attributes (`module_names`), None if nothing.
        prelude_imports: modules the prelude binds to names (`g`), as `facts.imports`.
    """
    aliases = _module_aliases(facts, prelude_imports or {})
    if not aliases:
        return [], []
    nodes = sorted(facts.attributes, key=lambda n: (n.lineno, n.col_offset))
    assigned = {(n.value.id, n.attr) for n in nodes if not isinstance(n.ctx, ast.Load)}
    errors: list[dict] = []
    warnings: list[str] = []
    seen: set[tuple[str, str]] = set()
    for node in nodes:
        name, attr = node.value.id, node.attr
        module = aliases.get(name)
        if module is None or attr.startswith("_") or (name, attr) in seen | assigned:
            continue
        seen.add((name, attr))
        known = names_of(module)
        if known is None or attr in known.names:
            continue
        close = suggestions.closest(attr, (n for n in known.names if not n.startswith("_")))
        hint = f" (did you mean '{name}.{close}'?)" if close else ""
        said = f"'{name}.{attr}': {known.source} no '{attr}'{hint}"
        if known.exact:
            message = f"{said}; the script would stop with an AttributeError at this line"
            errors.append(error(node.lineno, node.col_offset + 1, message))
        else:
            warnings.append(
                f"line {node.lineno}: {said}; if the job's has none either, the script stops "
                "with an AttributeError at this line"
            )
    return errors, warnings


def _module_aliases(facts: ScriptFacts, prelude: Mapping[str, set[str]]) -> dict[str, str]:
    """Local names bound only to one checked module (by the script's imports or the prelude)."""
    aliases = {}
    for name in set(facts.imports) | set(prelude):
        if name in facts.stored:
            continue  # assigned too: what it holds at a given line is unknown here
        modules = set(facts.imports.get(name, ())) | (
            set(prelude.get(name, ())) if name not in facts.imports else set()
        )
        if len(modules) == 1:
            (module,) = modules
            if module in CHECKED:
                aliases[name] = module
    return aliases
