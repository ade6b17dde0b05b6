"""The emulator's speech models: the newest, the deprecated, the retired, and one without redacted audio."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pendulum
import pytest
from airflow.sdk import DAG

from airflow_assemblyai.exceptions import SpeechModelRejectedError
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.redaction import NOT_REQUESTED_TEXT
from airflow_assemblyai.sensors.redacted_audio import AssemblyAIRedactedAudioSensor
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.testing.pytest_plugin import run_dag_test
from tests.support import REDACT

NEWEST = "assemblyai-stt-3-7"


def submit(emulator: Emulator, models: list[str]) -> httpx.Response:
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": emulator.api_key}) as client:
        return client.post(
            "/v2/transcript",
            json={"audio_url": emulator.sample_audio_url, "speech_models": models, **REDACT},
        )


def completed(emulator: Emulator, transcript_id: str) -> dict[str, Any]:
    """Return the transcript once the emulator has completed it (ended by hand, no waiting)."""
    emulator.finish(transcript_id)
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": emulator.api_key}) as client:
        body: dict[str, Any] = client.get(f"/v2/transcript/{transcript_id}").json()
    return body


@pytest.mark.parametrize(
    ("chain", "used"),
    [
        pytest.param([NEWEST], NEWEST, id="newest"),
        pytest.param(["universal-3-5-pro", "universal-2"], "universal-3-5-pro", id="deprecated-still-runs"),
        pytest.param(["universal"], "universal-3-5-pro", id="retired-routed"),
    ],
)
def test_the_emulator_runs_or_routes_each_model_as_assemblyai_describes(
    assemblyai_emulator: Emulator, chain: list[str], used: str
) -> None:
    response = submit(assemblyai_emulator, chain)
    assert response.status_code == 200, response.text
    transcript = completed(assemblyai_emulator, response.json()["id"])
    assert transcript["status"] == "completed"
    assert transcript["speech_models"] == chain  # echoed as sent
    assert transcript["speech_model_used"] == used


def test_a_retired_model_assemblyai_refuses_is_refused_with_the_replacement(
    assemblyai_emulator: Emulator,
) -> None:
    response = submit(assemblyai_emulator, ["universal-3-pro"])
    assert response.status_code == 400
    assert response.json()["error"] == (
        'The "universal-3-pro" speech model(s) have been deprecated. '
        'Use speech_models: ["universal-3-5-pro", "universal-2"] instead.'
    )


def test_a_model_without_redacted_audio_answers_that_none_exists(assemblyai_emulator: Emulator) -> None:
    tid = submit(assemblyai_emulator, [NEWEST]).json()["id"]
    transcript = completed(assemblyai_emulator, tid)
    assert transcript["redact_pii_audio"] is True  # it was asked for ...
    with httpx.Client(
        base_url=assemblyai_emulator.base_url, headers={"Authorization": assemblyai_emulator.api_key}
    ) as client:
        answer = client.get(f"/v2/transcript/{tid}/redacted-audio")
    assert (answer.status_code, answer.json()["error"]) == (400, NOT_REQUESTED_TEXT)  # ... and never rendered


def test_the_hook_names_speech_model_used_and_the_connection_field(assemblyai_connection: Emulator) -> None:
    tid = submit(assemblyai_connection, [NEWEST]).json()["id"]
    assemblyai_connection.finish(tid)
    with pytest.raises(SpeechModelRejectedError) as info:
        AssemblyAIHook().get_redacted_audio(tid)
    message = str(info.value)
    assert f"speech_model_used '{NEWEST}'" in message
    assert "extra field speech_models of connection 'assemblyai_default'" in message
    assert info.value.http_status == 400


@pytest.mark.usefixtures("airflow_metadata_db")
@pytest.mark.parametrize(
    ("where", "faults"),
    [
        pytest.param({"mode": "poke"}, Faults(), id="poke"),
        # The first poll spends its retry budget on 503s, so the trigger's poller finds the answer.
        pytest.param({"deferrable": True}, Faults(api_errors=[503, 503]), id="deferred-trigger"),
    ],
)
def test_a_transcript_whose_model_rendered_no_redacted_audio_fails_the_wait_naming_the_model(
    assemblyai_connection: Emulator,
    capfd: pytest.CaptureFixture[str],
    where: dict[str, Any],
    faults: Faults,
) -> None:
    tid = assemblyai_connection.add_transcript(params={**REDACT, "speech_models": [NEWEST]}, faults=faults)
    with DAG(
        f"models_{uuid.uuid4().hex[:8]}", schedule=None, start_date=pendulum.datetime(2026, 1, 1)
    ) as dag:
        AssemblyAIRedactedAudioSensor(
            task_id="wait", transcript_id=tid, poke_interval=0.1, timeout=30, retries=2, **where
        )
    ti = run_dag_test(dag).get_task_instance("wait")
    assert str(ti.state) == "failed"
    logged = "".join(capfd.readouterr())
    assert f"speech_model_used '{NEWEST}'" in logged
    assert "extra field speech_models of connection 'assemblyai_default'" in logged
    # Final: no task retry, so the transcript's redacted audio was asked for exactly once.
    assert assemblyai_connection.count("GET", f"/v2/transcript/{tid}/redacted-audio") == 1
