"""The README is a front door for users: the two commands first, an install that works, the rest in docs/."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).parents[3]
README = (REPO / "README.md").read_text(encoding="utf-8")


def commands(block: str) -> list[str]:
    """Return the commands of a shell block's text, in order, comments stripped."""
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]


def shell_commands(text: str) -> list[str]:
    """Return the commands of the text's ```bash blocks, in order."""
    return [c for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL) for c in commands(block)]


def install_block() -> str:
    """Return the first ```bash block under "## Install" (what .ci/readme_install.sh runs)."""
    section = README.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```bash\n(.*?)```", section, re.DOTALL)[1]  # type: ignore[index]


def test_the_first_two_commands_run_the_demo_and_the_tests() -> None:
    assert shell_commands(README)[:2] == ["./scripts/demo", "./scripts/test"]


def test_the_install_installs_from_the_checkout_not_an_index() -> None:
    installs = [c for c in commands(install_block()) if "pip install" in c]
    assert installs, "the install section has no pip install"
    assert all(re.search(r"pip install \"?\.(\[|\"|\s|$)", c) for c in installs), installs
    assert "pip install airflow-provider-assemblyai" not in README


def test_the_readme_is_short_and_speaks_to_users() -> None:
    assert len(README.splitlines()) <= 170
    ours = {
        name
        for path in (REPO / "tests").rglob("test_*.py")
        for name in re.findall(r"^\s*(?:async )?def (test_\w+)", path.read_text(encoding="utf-8"), re.M)
    }
    named = set(re.findall(r"\btest_\w+", README)) & ours
    assert named == set(), "this project's test function names belong in the tests"
    for wording in ("2-core", "this machine", "checked here", "on this machine", "shared machine"):
        assert wording not in README


def test_the_readme_names_both_connection_ids_and_the_connection_test_setting() -> None:
    for needed in (
        "assemblyai_conn_id",
        "aws_conn_id",
        "test_connection = Enabled",
        "AIRFLOW__CORE__TEST_CONNECTION=Enabled",
        "docs/testing.md",
    ):
        assert needed in README


def test_every_docs_page_is_in_the_nav_and_linked_from_the_readme() -> None:
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]
    in_nav = {page for entry in nav for page in entry.values()}
    pages = {p.name for p in (REPO / "docs").glob("*.md")}
    assert in_nav == pages
    assert {page for page in pages if f"(docs/{page})" not in README} == set()


def test_messages_and_docstrings_send_readers_to_docs_pages_not_readme_sections() -> None:
    sources = [*REPO.glob("airflow_assemblyai/**/*.py"), *REPO.glob("dags/*.py")]
    readme_references = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "README" in line
    ]
    assert readme_references == []
    # Each docs/PAGE.md#anchor given instead is checked to exist by .ci/check_docs.py.
    linked = {m for path in sources for m in re.findall(r"docs/[\w-]+\.md#[\w-]+", path.read_text())}
    assert {"docs/models.md#models", "docs/iam.md#iam-permissions", "docs/record.md#record"} <= linked
