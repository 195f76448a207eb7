"""Records of the catalogue: a command and its parameters, and their JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from scriptserver_ioc.catalogue.typespec import ANY_TYPE, TypeSpec

FUNCTION = "function"
SCRIPT_DEFINITION = "script_definition"
PLAN = "plan"
"""A generator function: a bluesky plan, run on the instrument's RunEngine (docs/bluesky.md)."""

FOUND_DEF = "def"
FOUND_ALIAS = "alias"
FOUND_PARTIAL = "partial"
FOUND_REEXPORT = "re-export"
FOUND_GENERATED = "generated"
FOUND_CLASS = "class"
"""How a command was found (`found` in COMMANDS): a `def` of the file; a name assigned from
another function or a bound method (`scan = _inst.scan`); `functools.partial(...)`; a name
imported from instrument code (`from .sans import do_sans`); a name made by code
(`locals()[m] = wrapper(obj, m)`, a decorator result), described by the checker process from
the live object; a script definition's `class DoRun`."""

POSITIONAL_ONLY = "positional_only"
POSITIONAL_OR_KEYWORD = "positional_or_keyword"
VAR_POSITIONAL = "var_positional"
KEYWORD_ONLY = "keyword_only"
VAR_KEYWORD = "var_keyword"


@dataclass(frozen=True)
class Param:
    """One parameter of a command.

    Attributes:
        name: the parameter name (without `*`).
        kind: `positional_only`, `positional_or_keyword`, `var_positional`, `keyword_only`
            or `var_keyword` (as in `inspect.Parameter`, lower case).
        type: the annotation text, else the type named in the docstring, else None.
        type_source: `annotation`, `docstring` or None: only annotations are enforced.
        required: True if a call must give it (no default, not `*args`/`**kwargs`).
        has_default: the parameter has a default.
        default: the default as JSON data; the source text if it is an expression.
        default_expression: True when `default` is source text of a non-literal default.
        description: from the docstring, "" if undocumented.
        spec: how values are coerced (see `binding`).
    """

    name: str
    kind: str = POSITIONAL_OR_KEYWORD
    type: str | None = None
    type_source: str | None = None
    required: bool = True
    has_default: bool = False
    default: object = None
    default_expression: bool = False
    description: str = ""
    spec: TypeSpec = ANY_TYPE

    def to_json(self) -> dict:
        """The parameter's entry in the COMMANDS PV."""
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "default": self.default,
            "description": self.description,
            "kind": self.kind,
            "choices": self.spec.choice_list(),
            "default_expression": self.default_expression,
            "type_source": self.type_source,
        }


@dataclass(frozen=True)
class Command:
    """A command of the catalogue: a function or an ISIS script definition.

    Attributes:
        name: what a job calls (`set_ei`); a script definition is named after its file.
        module: the file's stem, importable once the command directory is on `sys.path`.
        path: the source file.
        line: line of the `def` (or of `class DoRun`).
        kind: `function`, `script_definition` or `plan` (a generator function).
        signature: text shown to users, e.g. `set_ei(energy: float, wait: bool = True)`.
        enum_params: parameter name to the name of an `Enum` class of the same module;
            bound values are member names, to be turned back into members in the job.
        found: how the command was found (`FOUND_*`: def, alias, partial, re-export,
            generated, class).
        import_error: why the command cannot run (its module failed to import in the
            checker process), else None; a job using it is refused at submit.
    """

    name: str
    module: str
    path: Path
    line: int
    kind: str = FUNCTION
    params: tuple[Param, ...] = ()
    has_estimate: bool = False
    has_validate: bool = False
    description: str = ""
    doc: str = ""
    signature: str = ""
    enum_params: dict[str, str] = field(default_factory=dict)
    found: str = FOUND_DEF
    import_error: str | None = None

    @property
    def source(self) -> str:
        """`file.py:line`, as in the COMMANDS PV."""
        return f"{self.path.name}:{self.line}"

    def param(self, name: str) -> Param | None:
        """The parameter called `name`, or None."""
        for p in self.params:
            if p.name == name:
                return p
        return None

    def to_json(self) -> dict:
        """The command's entry in the COMMANDS PV (pv-interface.md, plus added keys).

        Built once per command and shared: treat it as read-only.
        """
        return self._json

    @cached_property
    def _json(self) -> dict:
        return {
            "name": self.name,
            "module": self.module,
            "signature": self.signature,
            "description": self.description,
            "doc": self.doc,
            "params": [p.to_json() for p in self.params],
            "has_estimate": self.has_estimate,
            "source": self.source,
            "kind": self.kind,
            "has_validate": self.has_validate,
            "found": self.found,
            "import_error": self.import_error,
        }

    def job_entry(self) -> dict:
        """What a job process needs to make this command callable by name."""
        return {
            "name": self.name,
            "module": self.module,
            "path": str(self.path),
            "kind": self.kind,
            "enum_params": dict(self.enum_params),
        }
