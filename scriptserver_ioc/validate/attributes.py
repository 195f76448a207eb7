"""Unknown attributes of genie_python and the instrument's `inst` module, found statically.

`g.waitfor_uamp(40)` (a typo of `g.waitfor_uamps`) would stop a script with an
AttributeError when it reaches that line, maybe hours into the night. The names these
modules have are known: the job interpreter imports the module and lists them (`dir`,
asked of the companion worker, once per catalogue revision), so a script reading a name
the module does not have is refused at submit, with the nearest name as a suggestion.

Only modules whose attributes are fixed once imported are checked: genie_python's
`genie` (however it is imported or aliased: `from genie_python import genie as g`,
`import genie_python.genie as genie`, or by the prelude) and the instrument scripts module
`inst`. A name that is also assigned in the script (`g = ...`) is not checked, nor are
private attributes (`g._genie_api`), nor any module the job interpreter cannot import.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping

from scriptserver_ioc.validate.static import ScriptFacts, error

CHECKED = {"genie_python.genie": "genie_python's genie module", "inst": "the inst module"}
"""Modules whose attributes are checked, and how messages name them."""

CUTOFF = 0.75
"""How alike (difflib's ratio) a name must be to be suggested."""


def unknown_attribute_errors(
    facts: ScriptFacts,
    attributes_of: Callable[[str], frozenset[str] | None],
    prelude_imports: Mapping[str, set[str]] | None = None,
) -> list[dict]:
    """Error records (`{"line", "col", "message"}`) for `alias.name` reads of unknown names.

    Args:
        facts: the script's facts (`static.analyse`).
        attributes_of: the attributes of a module in the job interpreter, None if unknown.
        prelude_imports: modules the prelude binds to names (`g`), as `facts.imports`.
    """
    aliases = _module_aliases(facts, prelude_imports or {})
    if not aliases:
        return []
    errors: dict[tuple[str, str], dict] = {}
    for node in sorted(facts.attributes, key=lambda n: (n.lineno, n.col_offset)):
        name, attr = node.value.id, node.attr
        module = aliases.get(name)
        if module is None or attr.startswith("_") or (name, attr) in errors:
            continue
        known = attributes_of(module)
        if known is None or attr in known:
            continue
        public = [n for n in known if not n.startswith("_")]
        close = difflib.get_close_matches(attr, public, n=1, cutoff=CUTOFF)
        hint = f" (did you mean '{name}.{close[0]}'?)" if close else ""
        message = (
            f"'{name}.{attr}': {CHECKED[module]} has no '{attr}'{hint}; the script would "
            "stop with an AttributeError at this line"
        )
        errors[(name, attr)] = error(node.lineno, node.col_offset + 1, message)
    return list(errors.values())


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
