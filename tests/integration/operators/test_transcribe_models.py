"""The model chain: sent on every submission, set per task or per connection, refusals final and clear."""

from __future__ import annotations

import pytest

from airflow_assemblyai.defaults import DEFAULT_SPEECH_MODELS
from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError, SpeechModelRejectedError
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.operators.transcribe import AssemblyAITranscribeOperator
from airflow_assemblyai.testing.emulator import (
    MISSING_MODELS_TEXT,
    SINGULAR_MODEL_TEXT,
    Emulator,
)
from airflow_assemblyai.testing.loopback import assemblyai_connection_env
from tests.support import REDACT, set_env

AUDIO = "https://example.invalid/call.wav"


def use_connection(monkeypatch: pytest.MonkeyPatch, emulator: Emulator, **extra: object) -> None:
    retries = {"max_attempts": 3, "retry_wait_initial": 0.01, "retry_wait_max": 0.02}
    env = assemblyai_connection_env(api_key=emulator.api_key, base_url=emulator.base_url, **retries, **extra)
    set_env(monkeypatch, env)


def transcribe(**kwargs: object) -> str:
    operator = AssemblyAITranscribeOperator(task_id="transcribe", audio_url=AUDIO, **kwargs)  # type: ignore[arg-type]
    return str(operator.execute({}))  # type: ignore[arg-type]


def test_without_a_choice_the_provider_default_chain_is_sent(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, assemblyai_emulator)
    tid = transcribe(redact_pii_policies=["person_name"])
    assert assemblyai_emulator.submissions[-1]["speech_models"] == list(DEFAULT_SPEECH_MODELS)
    transcript = AssemblyAIHook().get_transcript(tid)
    assert transcript["speech_models"] == list(DEFAULT_SPEECH_MODELS)


def test_the_connection_default_beats_the_provider_default_and_the_task_beats_both(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, assemblyai_emulator, speech_models="universal-2")
    transcribe(redact_pii_policies=["person_name"])
    assert assemblyai_emulator.submissions[-1]["speech_models"] == ["universal-2"]
    transcribe(redact_pii_policies=["person_name"], speech_models=["universal-3-5-pro"])
    assert assemblyai_emulator.submissions[-1]["speech_models"] == ["universal-3-5-pro"]


def test_the_singular_speech_model_is_refused_before_any_request(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, assemblyai_emulator)
    with pytest.raises(
        AssemblyAIInvalidInputError, match=r"speech_model \(singular\) is deprecated.*speech_models"
    ):
        AssemblyAIHook().submit_transcript(AUDIO, speech_model="best", **REDACT)
    assert assemblyai_emulator.count("POST", "/v2/transcript") == 0


@pytest.mark.parametrize("retired", ["universal-3-pro", "nano", "best"])
def test_a_retired_model_fails_once_with_the_replacement_assemblyai_suggests(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, retired: str
) -> None:
    use_connection(monkeypatch, assemblyai_emulator)
    with pytest.raises(SpeechModelRejectedError) as info:
        transcribe(redact_pii_policies=["person_name"], speech_models=[retired, "universal-2"])
    message = str(info.value)
    assert f'The "{retired}" speech model(s) have been deprecated.' in message
    assert 'Use speech_models: ["universal-3-5-pro", "universal-2"] instead.' in message
    assert "connection 'assemblyai_default'" in message  # says where to change it
    assert info.value.http_status == 400
    assert assemblyai_emulator.count("POST", "/v2/transcript") == 1  # permanent: never retried


def test_the_emulator_refuses_what_the_api_refuses(assemblyai_emulator: Emulator) -> None:
    import httpx

    with httpx.Client(
        base_url=assemblyai_emulator.base_url, headers={"Authorization": assemblyai_emulator.api_key}
    ) as client:
        missing = client.post("/v2/transcript", json={"audio_url": AUDIO, **REDACT})
        singular = client.post(
            "/v2/transcript", json={"audio_url": AUDIO, "speech_model": "universal-2", **REDACT}
        )
        accepted = client.post(
            "/v2/transcript", json={"audio_url": AUDIO, "speech_models": ["universal-2"], **REDACT}
        )
    assert (missing.status_code, missing.json()) == (400, {"error": MISSING_MODELS_TEXT})
    assert (singular.status_code, singular.json()) == (400, {"error": SINGULAR_MODEL_TEXT})
    assert accepted.status_code == 200
    assert accepted.json()["speech_models"] == ["universal-2"]
