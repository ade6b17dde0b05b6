"""The docs build strictly, and every link the README and the package's messages give leads somewhere."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

CHECK = Path(__file__).parents[3] / ".ci" / "check_docs.py"


def test_docs_build_strictly_and_every_internal_link_and_anchor_exists() -> None:
    done = subprocess.run(
        [sys.executable, str(CHECK)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "broken link" not in done.stdout
    assert "external links (listed, not fetched):" in done.stdout


PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
PAGES = [CHECK.parents[1] / "README.md", *sorted((CHECK.parents[1] / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_python_snippet_of_the_docs_compiles_and_its_imports_resolve(page: Path) -> None:
    for number, code in enumerate(PYTHON_BLOCK.findall(page.read_text()), start=1):
        tree = ast.parse(code, filename=f"{page.name} snippet {number}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("airflow"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{page.name} snippet {number}: {alias.name}"
