"""The example DAGs, run end to end; ``load_dag_module`` loads one as the DAG processor would."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

DAGS_FOLDER = Path(__file__).parents[3] / "dags"


def load_dag_module(name: str) -> ModuleType:
    """Import ``dags/<name>.py`` afresh and return the module (its ``dag`` and constants)."""
    spec = importlib.util.spec_from_file_location(name, DAGS_FOLDER / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load dags/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
