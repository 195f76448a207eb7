"""Docstrings of commands: description line and per-parameter descriptions.

Parsing is done by `docstring_parser` (Google, NumPy, reST and Epydoc styles, detected
automatically). The description is the first paragraph (wrapped lines joined), also for a
docstring the parser cannot read.
"""

from __future__ import annotations

import inspect
import logging
import re
from dataclasses import dataclass, field

import docstring_parser

logger = logging.getLogger(__name__)

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
        description: its first paragraph, wrapped lines joined (empty if it starts with a
            section such as `Args:`).
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
    description = first_paragraph(doc)
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


def first_paragraph(doc: str) -> str:
    """The one-line description of a docstring: its first paragraph, wrapped lines joined.

    The paragraph ends at a blank line or at a section header (`Args:`, `Parameters` ...);
    a docstring that starts with a section has no description.
    """
    lines = [line.strip() for line in doc.strip().splitlines()]
    words: list[str] = []
    for index, text in enumerate(lines):
        underlined = index + 1 < len(lines) and _UNDERLINE.match(lines[index + 1])
        if not text or underlined or _PARAGRAPH_END.match(text):
            break
        words.append(text)
    return " ".join(" ".join(words).split())


_UNDERLINE = re.compile(r"^(-{3,}|={3,})$")
_PARAGRAPH_END = re.compile(
    r"^((args|arguments|parameters|params|keyword args|keyword arguments|other parameters|"
    r"returns?|yields?|raises|examples?|notes?|warnings?|see also|attributes|todo)\s*:?|"
    r":(param|parameter|arg|type|returns?|raises)\b.*|>>>.*)$",
    re.IGNORECASE,
)
"""A line that ends the first paragraph: a section header, a reST field, a doctest."""


def help_text(text: str) -> DocInfo:
    """A script definition's `get_help()` text as a `DocInfo` (description: first paragraph)."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    cleaned = inspect.cleandoc("\n".join(lines))
    return DocInfo(cleaned, first_paragraph(cleaned), {})
