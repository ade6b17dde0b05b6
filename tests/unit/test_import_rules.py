"""The package's import rules, read from its own source: no private names across modules, no upward import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "airflow_assemblyai"
MODULES = sorted(PACKAGE.rglob("*.py"))


def imports_of(path: Path) -> list[tuple[str, str]]:
    """Return ``(module, name)`` of every ``from airflow_assemblyai... import name`` in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("airflow_assemblyai"):
            found.extend((str(node.module), alias.name) for alias in node.names)
    return found


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_no_module_imports_a_private_name_of_another(path: Path) -> None:
    private = [f"{module}.{name}" for module, name in imports_of(path) if name.startswith("_")]
    assert [name for name in private if not name.endswith("__version__")] == []


@pytest.mark.parametrize("path", sorted((PACKAGE / "hooks").glob("*.py")), ids=lambda p: p.name)
def test_the_hooks_never_import_the_layers_above_them(path: Path) -> None:
    above = ("operators", "transfers", "sensors", "triggers", "batch", "testing")
    upward = [m for m, _ in imports_of(path) if m.split(".")[1:2] and m.split(".")[1] in above]
    assert upward == []


def test_masking_is_its_own_module_and_imports_nothing_of_the_package() -> None:
    assert imports_of(PACKAGE / "masking.py") == []
    hook = ast.parse((PACKAGE / "hooks" / "assemblyai.py").read_text())
    defined = {n.name for n in hook.body if isinstance(n, ast.FunctionDef)}
    assert not {"mask_presigned_url", "mask_redirect_location", "_presigned_url_forms"} & defined
