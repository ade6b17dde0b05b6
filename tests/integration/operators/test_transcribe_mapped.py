"""The transcribe operator mapped with .expand() and fed XComArgs, in a real Airflow run."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pendulum
import pytest
from airflow.sdk import DAG, task

from airflow_assemblyai.operators.transcribe import AssemblyAITranscribeOperator
from airflow_assemblyai.testing.emulator import Emulator
from airflow_assemblyai.testing.pytest_plugin import run_dag_test

pytestmark = pytest.mark.usefixtures("assemblyai_connection")


def test_expand_over_sources_with_policies_and_models_from_upstream_tasks(
    assemblyai_emulator: Emulator, airflow_metadata_db: Path
) -> None:
    emulator = assemblyai_emulator
    urls = [f"https://example.invalid/call-{n}.wav" for n in range(3)]
    with DAG(
        f"mapped_{uuid.uuid4().hex[:8]}", schedule=None, start_date=pendulum.datetime(2026, 1, 1)
    ) as dag:

        @task
        def policies() -> list[str]:
            return ["person_name", "phone_number"]

        @task
        def options() -> dict[str, Any]:
            return {"speech_models": ["universal-2"], "params": {"speaker_labels": True}}

        chosen = options()
        AssemblyAITranscribeOperator.partial(
            task_id="transcribe",
            redact_pii_policies=policies(),  # an XComArg: not a value until the task runs
            speech_models=chosen["speech_models"],
            transcript_params=chosen["params"],
            redact_pii_audio_quality="{{ 'wav' }}",
        ).expand(audio_url=urls)

    dag_run = run_dag_test(dag)
    assert dag_run.state == "success"
    sent = sorted(emulator.submissions, key=lambda body: body["audio_url"])
    assert [body["audio_url"] for body in sent] == urls
    for body in sent:
        assert body["redact_pii_policies"] == ["person_name", "phone_number"]
        assert body["speech_models"] == ["universal-2"]
        assert body["speaker_labels"] is True
        assert body["redact_pii_audio_quality"] == "wav"


def test_a_bad_mapped_value_fails_only_its_own_task_with_the_field_named(
    assemblyai_emulator: Emulator, airflow_metadata_db: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    emulator = assemblyai_emulator
    with DAG(
        f"mapped_{uuid.uuid4().hex[:8]}", schedule=None, start_date=pendulum.datetime(2026, 1, 1)
    ) as dag:
        AssemblyAITranscribeOperator.partial(
            task_id="transcribe",
            audio_url="https://example.invalid/call.wav",
            redact_pii_policies="person_name",
        ).expand(redact_pii_audio_quality=["wav", "flac", "mp3"])

    dag_run = run_dag_test(dag)
    states = {ti.map_index: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states == {0: "success", 1: "failed", 2: "success"}
    assert len(emulator.submissions) == 2  # the bad one never reached AssemblyAI
    assert "redact_pii_audio_quality must be 'mp3' or 'wav', got 'flac'" in "".join(capfd.readouterr())
