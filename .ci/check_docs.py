"""Build docs/ with mkdocs (strict: a missing page or anchor fails) and check the links mkdocs cannot see.

Checked here: the README's links into the repository (files and anchors), and every ``docs/PAGE.md#anchor``
that the package's messages and docstrings send readers to. External links are listed, never fetched.
Exit 1 on any broken link.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from markdown.extensions.toc import slugify

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*(?:\{#([\w-]+)\})?\s*$")
MESSAGE_LINK = re.compile(r"docs/([\w-]+\.md)#([\w-]+)")
FENCE = re.compile(r"^```")


def anchors(page: Path) -> set[str]:
    """Return the anchors of a Markdown page: explicit ``{#id}`` ids and slugs of its headings."""
    found: set[str] = set()
    fenced = False
    for line in page.read_text().splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            found.add(match[3] or slugify(match[2].replace("`", ""), "-"))
    return found


def broken_links(page: Path) -> list[str]:
    """Return the relative links of ``page`` whose file or anchor does not exist."""
    problems = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            problems.append(f"{page.relative_to(REPO)}: {target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            problems.append(f"{page.relative_to(REPO)}: {target}: no such anchor")
    return problems


def broken_message_links() -> list[str]:
    """Return the ``docs/PAGE.md#anchor`` references in the package and DAGs that lead nowhere."""
    problems = []
    for source in [*REPO.glob("airflow_assemblyai/**/*.py"), *REPO.glob("dags/*.py")]:
        for page, anchor in MESSAGE_LINK.findall(source.read_text()):
            if not (DOCS / page).exists():
                problems.append(f"{source.relative_to(REPO)}: docs/{page}: no such page")
            elif anchor not in anchors(DOCS / page):
                problems.append(f"{source.relative_to(REPO)}: docs/{page}#{anchor}: no such anchor")
    return problems


def external_links() -> list[str]:
    """Return the external links of the README and the docs, sorted, each once."""
    found = set()
    for page in [REPO / "README.md", *DOCS.glob("*.md")]:
        found.update(t for t in LINK.findall(page.read_text()) if t.startswith(("http://", "https://")))
    return sorted(found)


def main() -> int:
    with tempfile.TemporaryDirectory() as site:
        built = subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", site],
            cwd=REPO,
            check=False,
        )
    problems = broken_links(REPO / "README.md") + broken_message_links()
    for problem in problems:
        print(f"broken link: {problem}")
    print("external links (listed, not fetched):")
    for link in external_links():
        print(f"  {link}")
    if built.returncode != 0:
        print("mkdocs build --strict failed (see above)")
    return 1 if problems or built.returncode != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
