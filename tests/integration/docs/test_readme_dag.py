"""The README's first DAG, as written there, parses and runs end to end on the emulator and a local S3."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

from airflow_assemblyai.testing.pytest_plugin import OfflineServices

README = Path(__file__).parents[3] / "README.md"
#: The README's DAG: the fenced Python block whose first line names the file ``# dags/<name>.py``.
DAG_BLOCK = re.compile(r"```python\n# (?P<path>dags/[\w-]+\.py)\n(?P<code>.*?)```", re.DOTALL)
#: The README's test of that DAG: the fenced Python block whose first line names ``# tests/<name>.py``.
TEST_BLOCK = re.compile(r"```python\n# (?P<path>tests/[\w-]+\.py)[^\n]*\n(?P<code>.*?)```", re.DOTALL)


def readme_dag_file() -> tuple[str, str]:
    """Return ``(relative path, code)`` of the one DAG file the README shows."""
    [block] = DAG_BLOCK.findall(README.read_text(encoding="utf-8"))
    return block


def readme_test_code() -> str:
    """Return the code of the one test the README shows (it uses the DAG as ``dag``)."""
    [(_, code)] = TEST_BLOCK.findall(README.read_text(encoding="utf-8"))
    return code


def load_dag(path: Path) -> Any:
    """Import a DAG file as Airflow's DAG processor would find it, and return its ``dag``."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def test_the_readme_dag_names_both_connections_and_the_four_steps() -> None:
    _, code = readme_dag_file()
    assert code.count('assemblyai_conn_id="assemblyai_default"') == 4
    assert code.count('aws_conn_id="aws_default"') == 2
    assert "chain(transcribe, wait, archive, delete)" in code


def test_the_readme_dag_and_its_test_redact_archive_the_record_and_delete_the_transcript(
    assemblyai_offline: OfflineServices, tmp_path: Path
) -> None:
    relative, code = readme_dag_file()
    dag_file = tmp_path / relative
    dag_file.parent.mkdir(parents=True)
    dag_file.write_text(code)
    dag = load_dag(dag_file)
    assert [t.task_id for t in dag.tasks] == ["transcribe", "wait", "archive", "delete"]

    # The README's test, as written: connects the DAG's ids, runs it, asserts the run succeeded.
    namespace: dict[str, Any] = {"dag": dag}
    exec(compile(readme_test_code(), str(README), "exec"), namespace)
    namespace["test_redact_calls"](assemblyai_offline)

    offline = assemblyai_offline
    keys = sorted(o["Key"] for o in offline.s3.list_objects_v2(Bucket="my-archive")["Contents"])
    [audio] = [key for key in keys if key.endswith(".mp3")]
    transcript_id = audio.removeprefix("calls/").removesuffix(".mp3")
    record = {f"calls/{transcript_id}{suffix}" for suffix in (".mp3", ".transcript.json", ".manifest.json")}
    assert record <= set(keys)
    assert offline.emulator.count("POST", "/v2/transcript") == 1
    assert offline.emulator.deleted(transcript_id)
