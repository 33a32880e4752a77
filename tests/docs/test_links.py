"""README.md links only to files inside the repository, and every link of README.md and
docs/ to a file resolves.

A reader who clones reelay must find every page the docs send them to; a link that leaves
the repository (``../shared/API.md``) or names a file that moved fails here, and so does a
``#fragment`` that names no heading of the page it points at. Pages under docs/ may also
cite the web (an RFC); README may not.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#+\s+(.+?)\s*$", re.MULTILINE)


def anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces → hyphens."""
    found = set()
    for heading in _HEADING.findall(text):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(slug)
    return found


def broken_links(page: Path, root: Path = ROOT, *, web: bool = False) -> list[str]:
    """What is wrong with ``page``'s links; ``web`` allows links to web pages."""
    problems = []
    for target in _LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+:", target):
            if not (web and target.startswith("https://")):
                problems.append(f"{page.name}: {target} leaves the repository")
            continue
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.is_relative_to(root):
            problems.append(f"{page.name}: {target} points outside the repository")
        elif not resolved.exists():
            problems.append(f"{page.name}: {target} does not exist")
        elif (
            fragment and resolved.suffix == ".md" and fragment not in anchors(resolved.read_text())
        ):
            problems.append(f"{page.name}: {target} names no heading of {resolved.name}")
    return problems


def test_every_link_of_the_docs_stays_in_the_repository_and_resolves() -> None:
    problems = [
        problem for page in PAGES for problem in broken_links(page, web=page.parent.name == "docs")
    ]
    assert problems == []


def test_the_checker_sees_a_link_out_of_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "api.md").write_text("# The contract\n## Error codes\n")
    page = repo / "README.md"
    page.write_text(
        "# Top\n[a](../shared/API.md) [b](missing.md) [c](#top) [d](#nowhere)"
        " [e](https://example.com/x) [f](docs/api.md#error-codes) [g](docs/api.md#auth)\n"
    )
    problems = broken_links(page, repo)
    assert [p.split(": ", 1)[1].split(" ", 1)[0] for p in problems] == [
        "../shared/API.md",
        "missing.md",
        "#nowhere",
        "https://example.com/x",
        "docs/api.md#auth",
    ]
    assert broken_links(page, repo, web=True)[3:] == [
        "README.md: docs/api.md#auth names no heading of api.md"
    ]
