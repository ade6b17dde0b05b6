"""Tests use the pytest plugin's fixture names and the shared constants of tests/support.py."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).parents[1]
#: Every test folder: all use the plugin's names (the short aliases are gone from tests/conftest.py).
MOVED = ["integration", "unit"]
#: The short aliases in tests/conftest.py, and the plugin's names to use instead.
ALIASES = {
    "emulator": "assemblyai_emulator",
    "emulator_connection": "assemblyai_connection",
    "airflow_db": "airflow_metadata_db",
    "moto_server": "local_s3_endpoint",
    "dag_runner": "run_dag_test",
}
SHARED_CONSTANTS = {"REDACT", "WAV", "MODELS", "FAST_RETRIES"}


def moved_files() -> list[Path]:
    files: set[Path] = set()
    for entry in MOVED:
        path = TESTS / entry
        files.update(TESTS.glob(entry) if "*" in entry else path.rglob("*.py") if path.is_dir() else [path])
    return sorted(files - {Path(__file__)})  # this file names the aliases it looks for


def requested_aliases(path: Path) -> list[str]:
    """Return ``file:line name`` for each test or fixture that requests an alias."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            is_fixture = any("fixture" in ast.unparse(d) for d in node.decorator_list)
            if node.name.startswith("test_") or is_fixture:
                args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                found += [f"{path.name}:{node.lineno} {a.arg}" for a in args if a.arg in ALIASES]
        elif isinstance(node, ast.Constant) and node.value in ALIASES and isinstance(node.value, str):
            found += [f"{path.name}:{node.lineno} {node.value!r}"]
    return found


@pytest.mark.parametrize("path", moved_files(), ids=lambda p: str(p.relative_to(TESTS)))
def test_moved_tests_request_the_plugins_fixture_names(path: Path) -> None:
    assert requested_aliases(path) == []


@pytest.mark.parametrize("path", moved_files(), ids=lambda p: str(p.relative_to(TESTS)))
def test_moved_tests_import_the_shared_constants_instead_of_redefining_them(path: Path) -> None:
    tree = ast.parse(path.read_text())
    defined = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    assert defined & SHARED_CONSTANTS == set()
