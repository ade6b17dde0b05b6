"""Redaction settings fail closed: a name AssemblyAI does not document stops the task before any request."""

from __future__ import annotations

import uuid
from typing import Any

import pendulum
import pytest
from airflow.sdk import DAG

from airflow_assemblyai.operators.transcribe import AssemblyAITranscribeOperator
from airflow_assemblyai.testing.emulator import Emulator
from airflow_assemblyai.testing.loopback import assemblyai_connection_env
from airflow_assemblyai.testing.pytest_plugin import run_dag_test

AUDIO = "https://example.invalid/call.wav"


def run_transcribe(**operator_kwargs: Any) -> str:
    """Run a one-task DAG with the transcribe operator; return the task's final state."""
    with DAG(
        f"redaction_settings_{uuid.uuid4().hex[:8]}", schedule=None, start_date=pendulum.datetime(2026, 1, 1)
    ) as dag:
        AssemblyAITranscribeOperator(
            task_id="transcribe", retries=2, **{"audio_url": AUDIO, **operator_kwargs}
        )
    dag_run = run_dag_test(dag)
    return str(dag_run.get_task_instance("transcribe").state)


def api_requests(emulator: Emulator) -> int:
    """Count the requests the emulator received on AssemblyAI's API (``/v2/...``)."""
    return emulator.count(path_prefix="/v2/")


@pytest.mark.usefixtures("airflow_metadata_db")
def test_a_typo_in_a_policy_name_fails_the_dag_with_no_request_sent(
    assemblyai_connection: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    state = run_transcribe(redact_pii_policies=["person_name", "phone_numbr"])
    assert state == "failed"
    assert api_requests(assemblyai_connection) == 0
    assert assemblyai_connection.submissions == []
    logged = "".join(capfd.readouterr())
    assert "redact_pii_policies" in logged
    assert "'phone_numbr' (did you mean 'phone_number'?)" in logged


@pytest.mark.usefixtures("airflow_metadata_db")
@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        pytest.param({"redact_pii_sub": "entity_type"}, "did you mean 'entity_name'?", id="substitution"),
        pytest.param({"redact_pii_audio_quality": "mp4"}, "did you mean 'mp3'?", id="audio-quality"),
        pytest.param(
            {"redact_pii_audio_options": {"return_redacted_no_speech": True}},
            "did you mean 'return_redacted_no_speech_audio'?",
            id="audio-option-key",
        ),
        pytest.param(
            {"redact_pii_audio_options": {"override_audio_redaction_method": "silent"}},
            "did you mean 'silence'?",
            id="audio-option-value",
        ),
    ],
)
def test_an_unknown_substitution_or_audio_option_fails_before_any_request(
    assemblyai_connection: Emulator,
    capfd: pytest.CaptureFixture[str],
    setting: dict[str, Any],
    expected: str,
) -> None:
    state = run_transcribe(redact_pii_policies=["person_name"], **setting)
    assert state == "failed"
    assert api_requests(assemblyai_connection) == 0
    logged = "".join(capfd.readouterr())
    assert next(iter(setting)) in logged  # the field is named
    assert expected in logged


@pytest.mark.usefixtures("airflow_metadata_db")
def test_the_task_argument_lets_a_name_added_after_this_release_through(
    assemblyai_connection: Emulator,
) -> None:
    state = run_transcribe(
        redact_pii_policies=["person_name", "pet_name"], allow_unlisted_pii_policies=["pet_name"]
    )
    assert state == "success"
    assert assemblyai_connection.submissions[-1]["redact_pii_policies"] == ["person_name", "pet_name"]


@pytest.mark.usefixtures("airflow_metadata_db")
def test_the_connection_extra_lets_a_name_through_for_every_dag_using_it(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    env = assemblyai_connection_env(
        api_key=assemblyai_emulator.api_key,
        base_url=assemblyai_emulator.base_url,
        allowed_pii_policies='["pet_name", "Shoe_Size"]',
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert run_transcribe(redact_pii_policies="person_name, pet_name, shoe_size") == "success"
    assert assemblyai_emulator.submissions[-1]["redact_pii_policies"] == [
        "person_name",
        "pet_name",
        "shoe_size",
    ]
    # A name neither the task nor the connection allows still fails, naming both places to allow it.
    assert run_transcribe(redact_pii_policies=["person_name", "pet_nmae"]) == "failed"
    assert len(assemblyai_emulator.submissions) == 1
    logged = "".join(capfd.readouterr())
    assert "allow_unlisted_pii_policies" in logged
    assert "allowed_pii_policies" in logged


def test_the_allowed_names_are_read_from_the_connection_only_when_needed() -> None:
    # Known names never read the connection ("nowhere" does not exist), so nothing can fail there.
    operator = AssemblyAITranscribeOperator(
        task_id="t", audio_url=AUDIO, assemblyai_conn_id="nowhere", redact_pii_policies=["phone_number"]
    )
    assert operator._request_fields()["redact_pii_policies"] == ["phone_number"]
