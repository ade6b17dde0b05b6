"""The emulator's package is split by role: each module answers one question and stays short."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from fastapi import APIRouter

import airflow_assemblyai.testing.emulator as emulator_package

PACKAGE = Path(emulator_package.__file__).parent
#: The names code in this repository imports from ``airflow_assemblyai.testing.emulator``.
IMPORTED_NAMES = (
    "EXPIRED_TEXT",
    "HTML_ERROR_PAGE",
    "MISSING_MODELS_TEXT",
    "SINGULAR_MODEL_TEXT",
    "Emulator",
    "Faults",
    "RecordedRequest",
    "run_emulator",
)


def test_the_emulator_is_a_package_of_modules_under_400_lines() -> None:
    sizes = {path.name: len(path.read_text().splitlines()) for path in PACKAGE.glob("*.py")}

    assert {"state.py", "api.py", "file_host.py", "control.py", "server.py", "__main__.py"} <= set(sizes)
    assert max(sizes.values()) <= 400, sizes


@pytest.mark.parametrize(
    ("module", "prefixes"),
    [
        ("api", {"/v2/"}),
        ("file_host", {"/_files/", "/_uploads/"}),
        ("control", {"/_emulator/", "/_samples/"}),
    ],
)
def test_each_role_serves_its_own_routes_on_one_router(module: str, prefixes: set[str]) -> None:
    router = importlib.import_module(f"airflow_assemblyai.testing.emulator.{module}").router

    assert isinstance(router, APIRouter)
    paths = {route.path for route in router.routes}  # type: ignore[attr-defined]
    assert paths
    assert all(any(path.startswith(prefix) for prefix in prefixes) for path in paths), paths


@pytest.mark.parametrize("name", IMPORTED_NAMES)
def test_the_package_still_exports_what_the_repository_imports(name: str) -> None:
    assert hasattr(emulator_package, name)


def test_no_module_imports_a_private_name_of_another() -> None:
    private = [
        f"{path.name}: {alias.name}"
        for path in PACKAGE.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name.startswith("_") and alias.name != "__future__"
    ]

    assert private == []
