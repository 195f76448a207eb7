"""Every relative link of the README and docs/ resolves inside the repository.

Users have the repository only: a link to a file outside it (such as the team's
`../shared` notes) or to a file that does not exist is a dead end, and so is a link to a
heading (`page.md#part`) that the page does not have.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "opi" / "README.md", *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def links(document: Path) -> list[str]:
    """Targets of the markdown links of a document, outside code blocks."""
    text = FENCE.sub("", document.read_text(encoding="utf-8"))
    return LINK.findall(text)


def anchors(document: Path) -> set[str]:
    """GitHub's anchors of a document's headings (lower case, punctuation dropped)."""
    text = FENCE.sub("", document.read_text(encoding="utf-8"))
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_GIVEN_document_WHEN_links_followed_THEN_each_resolves_inside_the_repository(document):
    assert "../shared" not in document.read_text(encoding="utf-8")
    for target in links(document):
        if re.match(r"[a-z]+:", target):  # https:, mailto: ...
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (document.parent / path_part).resolve() if path_part else document
        assert resolved.is_relative_to(ROOT), f"{document.name}: {target} leaves the repository"
        assert resolved.exists(), f"{document.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{document.name}: no heading for {target}"


def test_GIVEN_readme_THEN_it_begins_with_exactly_the_two_set_up_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["./start_ioc.sh", "./run_tests.sh"]
    assert text.index("```bash") < text.index("\n## ")


def test_GIVEN_link_checker_WHEN_links_are_dead_THEN_it_finds_them(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[a](missing.md) [b](page.md#title) [c](#nope)\n```\n[d](x)\n```\n")
    assert links(page) == ["missing.md", "page.md#title", "#nope"]
    assert anchors(page) == {"title"}
