"""Docstrings of commands: description line and per-parameter descriptions.

Parsing is done by `docstring_parser` (Google, NumPy, reST and Epydoc styles, detected
automatically). A docstring it cannot parse still gives its first line as the description.
"""

from __future__ import annotations

import inspect
import logging
import re
from dataclasses import dataclass, field

import docstring_parser

logger = logging.getLogger(__name__)

_SECTION_HEADERS = {
    "args:",
    "arguments:",
    "parameters:",
    "params:",
    "returns:",
    "return:",
    "raises:",
    "examples:",
    "example:",
    "parameters",
    "notes:",
}


_NUMPY_SECTION = re.compile(r"^\s*(Parameters|Other Parameters|Returns)\s*\n\s*-{3,}\s*$", re.M)
_GOOGLE_SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Params|Keyword Args|Returns|Raises|Examples?)\s*:\s*$", re.M
)
_REST_FIELD = re.compile(r"^\s*:(param|parameter|arg|type|returns?|raises)\b", re.M)


def _style(doc: str) -> docstring_parser.DocstringStyle:
    """The docstring's style, recognised by its section headers.

    Parsing with AUTO runs every style's parser and costs about four times as much.
    """
    if _NUMPY_SECTION.search(doc):
        return docstring_parser.DocstringStyle.NUMPYDOC
    if _GOOGLE_SECTION.search(doc):
        return docstring_parser.DocstringStyle.GOOGLE
    if _REST_FIELD.search(doc):
        return docstring_parser.DocstringStyle.REST
    return docstring_parser.DocstringStyle.AUTO


@dataclass(frozen=True)
class ParamDoc:
    """What a docstring says about one parameter."""

    description: str = ""
    type_name: str | None = None


@dataclass(frozen=True)
class DocInfo:
    """What a docstring says about a command.

    Attributes:
        doc: the whole docstring, indentation cleaned (`inspect.cleandoc` rules).
        description: its first line (empty if it starts with a section such as `Args:`).
        params: parameter name (without `*`) to its documentation.
    """

    doc: str = ""
    description: str = ""
    params: dict[str, ParamDoc] = field(default_factory=dict)


def parse_docstring(doc: str | None) -> DocInfo:
    """Parse a cleaned docstring (as returned by `ast.get_docstring`)."""
    if not doc or not doc.strip():
        return DocInfo()
    doc = doc.strip()
    first_line = doc.splitlines()[0].strip()
    description = "" if first_line.lower() in _SECTION_HEADERS else first_line
    params: dict[str, ParamDoc] = {}
    try:
        parsed = docstring_parser.parse(doc, style=_style(doc))
    except (docstring_parser.ParseError, ValueError, IndexError) as err:
        logger.debug("docstring not parsed (%s): %r", err, first_line)
        return DocInfo(doc, description, params)
    for p in parsed.params:
        name = p.arg_name.lstrip("*").strip()
        if not name.isidentifier():
            continue
        text = " ".join((p.description or "").split())
        params[name] = ParamDoc(text, (p.type_name or "").strip() or None)
    return DocInfo(doc, description, params)


def help_text(text: str) -> DocInfo:
    """A script definition's `get_help()` text as a `DocInfo` (first non-empty line)."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    cleaned = inspect.cleandoc("\n".join(lines))
    lines = [line.strip() for line in cleaned.splitlines() if line.strip()]
    return DocInfo(cleaned, lines[0] if lines else "", {})
