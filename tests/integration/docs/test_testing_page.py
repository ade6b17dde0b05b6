"""The offline-testing page runs as written: its DAG, conftest and test, in a folder of their own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).parents[3] / "docs" / "testing.md"
#: A fenced Python block whose first line names the file it is: ``# dags/x.py``.
FILE_BLOCK = re.compile(r"```python\n# (?P<path>[\w./-]+\.py)\n(?P<code>.*?)```", re.DOTALL)


def page_files(text: str) -> dict[str, str]:
    """Return ``{relative path: code}`` of the page's file blocks."""
    return {m["path"]: m["code"] for m in FILE_BLOCK.finditer(text)}


def test_the_page_names_a_dag_a_conftest_and_a_test() -> None:
    files = page_files(PAGE.read_text())
    assert set(files) == {"dags/call_archive.py", "conftest.py", "tests/test_call_archive.py"}


@pytest.mark.parametrize("with_s3", [True, False], ids=["with-testing-s3", "without-moto"])
def test_the_pages_test_of_a_dag_of_ones_own_passes_offline(tmp_path: Path, with_s3: bool) -> None:
    for relative, code in page_files(PAGE.read_text()).items():
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code)
    # A user's environment: no Airflow settings, no AssemblyAI key, no AWS keys of ours.
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ASSEMBLYAI", "AWS_", "PYTEST_"))
    }
    if not with_s3:
        # moto's server cannot be imported: what a user without the testing-s3 extra has.
        blocker = tmp_path / "no_moto"
        (blocker / "moto").mkdir(parents=True)
        (blocker / "moto" / "__init__.py").write_text("raise ImportError('moto is not installed')\n")
        env["PYTHONPATH"] = str(blocker)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_call_archive.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = done.stdout + done.stderr
    if with_s3:
        assert done.returncode == 0, out[-4000:]
        assert re.search(r"\b1 passed\b", out), out[-2000:]
    else:
        assert done.returncode == 1, out[-4000:]
        fix = 'testing-s3 extra (from a checkout of it: python -m pip install ".[testing,testing-s3]")'
        assert fix in out
