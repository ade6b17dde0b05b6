"""The package's import rules, read from its own source: no private names across modules, no upward import.

The layers and what each may import are the table of docs/architecture.md#layers: the page is the
rule, and the tests below hold every import of the package to it.
"""

from __future__ import annotations

import ast
import re
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


# -- The layer table of docs/architecture.md

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "architecture.md"
#: Top-level modules of the ``base`` and ``rules`` layers; any other module or package is its own layer.
TOP_LEVEL = {
    "__init__": "base",
    "defaults": "base",
    "ids": "base",
    "exceptions": "base",
    "http_rules": "base",
    "masking": "base",
    "redaction": "rules",
    "redaction_settings": "rules",
}


def allowed_imports() -> dict[str, set[str]]:
    """Return each layer's allowed layers from the page's table (``| `layer` | `a`, `b` | ... |``)."""
    rows: dict[str, set[str]] = {}
    for line in PAGE.read_text().splitlines():
        row = re.match(r"^\| `([a-z_]+)` \| ([^|]*) \|", line)
        if row:
            rows[row.group(1)] = {name for name in re.findall(r"`([a-z_]+)`", row.group(2))}
    return rows


def layer_of(module: str) -> str:
    """Return the layer of a dotted module name inside the package."""
    parts = module.split(".")[1:]
    if not parts:
        return "base"
    if (PACKAGE / parts[0]).is_dir():
        return parts[0]
    return TOP_LEVEL.get(parts[0], parts[0])


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        parts = (
            [p for p in relative.parts if p != "__init__"]
            if relative.name == "__init__"
            else list(relative.parts)
        )
        found[".".join(parts)] = path
    return found


def package_imports_of(path: Path, module: str) -> list[tuple[str, list[str]]]:
    """Return ``(imported module, names)`` for every import of the package in ``path``."""
    found: list[tuple[str, list[str]]] = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.startswith("airflow_assemblyai")]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, target] if target else base)
            if target.startswith("airflow_assemblyai"):
                found.append((target, [alias.name for alias in node.names]))
    return found


def test_every_layer_of_the_package_is_in_the_architecture_table() -> None:
    table = allowed_imports()
    assert table, f"no layer table found in {PAGE}"
    missing = sorted({layer_of(m) for m in modules()} - set(table))
    assert not missing, f"layers missing from the table in docs/architecture.md: {missing}"


def test_each_layer_imports_only_what_the_architecture_page_allows() -> None:
    table = allowed_imports()
    wrong = []
    for module, path in modules().items():
        layer = layer_of(module)
        for target, _ in package_imports_of(path, module):
            used = layer_of(target)
            if used != layer and used not in table.get(layer, set()):
                wrong.append(f"{module} ({layer}) imports {target} ({used})")
    assert not wrong, "imports the architecture page does not allow:\n" + "\n".join(wrong)
