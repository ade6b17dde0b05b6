"""The runtime package imports without FastAPI or uvicorn; the emulator names the extra that brings them.

Each check runs in a fresh interpreter whose import system refuses ``fastapi`` and ``uvicorn``, as an
environment without the ``[testing]`` extra would (Airflow may still install them, so uninstalling
is not the test: importing is).
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import textwrap

import pytest

import airflow_assemblyai

BLOCK_TESTING_EXTRA = textwrap.dedent(
    """
    import importlib.abc
    import sys

    class RefuseTestingExtra(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in ("fastapi", "uvicorn"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, RefuseTestingExtra())
    """
)
EXTRA_HINT = 'pip install "airflow-provider-assemblyai[testing]"'


def runtime_modules() -> list[str]:
    """Return every module of the package outside ``airflow_assemblyai.testing``."""
    found = pkgutil.walk_packages(airflow_assemblyai.__path__, prefix="airflow_assemblyai.")
    names = sorted(m.name for m in found if not m.name.startswith("airflow_assemblyai.testing"))
    return ["airflow_assemblyai", *names]


def run_without_testing_extra(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TESTING_EXTRA + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_every_runtime_module_imports_without_fastapi_or_uvicorn() -> None:
    modules = runtime_modules()
    assert {
        "airflow_assemblyai.hooks.assemblyai",
        "airflow_assemblyai.operators.transcribe",
        "airflow_assemblyai.operators.delete",
        "airflow_assemblyai.sensors.redacted_audio",
        "airflow_assemblyai.triggers.redacted_audio",
        "airflow_assemblyai.transfers.redacted_audio_to_s3",
    } <= set(modules)

    done = run_without_testing_extra(
        f"""
        import importlib
        for name in {modules!r}:
            importlib.import_module(name)
        loaded = sorted(m for m in sys.modules if m.partition(".")[0] in ("fastapi", "uvicorn"))
        print("loaded:", loaded)
        """
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("loaded: []"), done.stdout


def test_the_blocker_really_refuses_fastapi() -> None:
    done = run_without_testing_extra("import fastapi")

    assert done.returncode != 0
    assert "No module named 'fastapi'" in done.stderr


@pytest.mark.parametrize(
    "module", ["airflow_assemblyai.testing.emulator", "airflow_assemblyai.testing.pytest_plugin"]
)
def test_the_emulator_without_the_extra_names_the_install_command(module: str) -> None:
    done = run_without_testing_extra(f"import {module}")

    assert done.returncode != 0
    assert "ImportError: The AssemblyAI emulator needs FastAPI and uvicorn" in done.stderr, done.stderr[
        -3000:
    ]
    assert EXTRA_HINT in done.stderr
