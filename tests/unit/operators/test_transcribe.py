"""Every argument of the transcribe operator is checked when the task runs, before any request."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError
from airflow_assemblyai.operators.delete import AssemblyAIDeleteTranscriptOperator
from airflow_assemblyai.operators.transcribe import AssemblyAITranscribeOperator

GOOD: dict[str, Any] = {"audio_url": "https://example.invalid/a.wav", "redact_pii_policies": ["person_name"]}
BAD_INPUT = [
    ({"audio_url": None}, "exactly one of audio_url"),
    ({"audio_path": "/tmp/a.wav"}, "exactly one of audio_url"),
    ({"redact_pii": False}, "redact_pii_audio=True needs redact_pii=True"),
    ({"redact_pii": "yes"}, "redact_pii must be True or False"),
    ({"redact_pii_policies": []}, "redact_pii_policies is empty"),
    ({"redact_pii_policies": 7}, "redact_pii_policies must be a list"),
    ({"redact_pii_sub": "stars"}, "redact_pii_sub must be 'hash' or 'entity_name'"),
    ({"redact_pii_audio_quality": "flac"}, "redact_pii_audio_quality must be 'mp3' or 'wav'"),
    ({"redact_pii_audio_options": {"volume": 3}}, "redact_pii_audio_options accepts only"),
    ({"redact_pii_audio_options": {"override_audio_redaction_method": "beep"}}, "must be 'silence'"),
    ({"redact_pii_audio_options": {"return_redacted_no_speech_audio": "yes"}}, "must be True or False"),
    ({"transcript_params": {"redact_pii": False}}, r"transcript_params sets \['redact_pii'\]"),
    ({"transcript_params": {"speech_model": "best"}}, r"transcript_params sets \['speech_model'\]"),
    ({"transcript_params": ["speaker_labels"]}, "transcript_params must be a dict"),
    ({"speech_models": []}, "speech_models is empty"),
    ({"speech_models": 3}, "speech_models must be a list"),
    ({"speech_models": ["universal-2", 5]}, "must hold only model names"),
    (
        {"submission_marker": "markers/a.wav.json"},
        "submission_marker 'markers/a.wav.json' is not s3://bucket/key",
    ),
]


@pytest.mark.parametrize(("changes", "field"), BAD_INPUT)
def test_bad_input_is_rejected_when_the_task_runs_before_any_request(
    changes: dict[str, Any], field: str
) -> None:
    # Constructing never checks (the value may still be a template or an XComArg) ...
    operator = AssemblyAITranscribeOperator(task_id="t", assemblyai_conn_id="nowhere", **{**GOOD, **changes})
    # ... running does, before reading the connection "nowhere" (which would fail differently).
    with pytest.raises(AssemblyAIInvalidInputError, match=field):
        operator.execute({})  # type: ignore[arg-type]


def test_policies_may_be_a_comma_separated_string() -> None:
    operator = AssemblyAITranscribeOperator(
        task_id="t", audio_url="https://x.invalid/a.wav", redact_pii_policies="person_name, phone_number"
    )
    assert operator._request_fields()["redact_pii_policies"] == ["person_name", "phone_number"]


def test_enumerated_values_are_accepted_in_any_case_and_sent_in_assemblyais_spelling() -> None:
    operator = AssemblyAITranscribeOperator(
        task_id="t",
        audio_url="https://x.invalid/a.wav",
        redact_pii_policies=["PERSON_NAME", " Phone_Number "],
        redact_pii_sub="Entity_Name",
        redact_pii_audio_quality="WAV",
    )
    fields = operator._request_fields()
    assert fields["redact_pii_policies"] == ["person_name", "phone_number"]
    assert fields["redact_pii_sub"] == "entity_name"
    assert fields["redact_pii_audio_quality"] == "wav"


def test_unknown_policy_names_fail_before_any_request_with_the_closest_names() -> None:
    operator = AssemblyAITranscribeOperator(
        task_id="t",
        audio_url="https://x.invalid/a.wav",
        assemblyai_conn_id="nowhere",  # not defined: it allows nothing, and no request is made
        redact_pii_policies=["person_name", "phone_numbr"],
    )
    with pytest.raises(AssemblyAIInvalidInputError, match=r"'phone_numbr' \(did you mean 'phone_number'\?\)"):
        operator._request_fields()


def test_a_policy_allowed_by_the_task_is_sent_with_a_warning(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    operator = AssemblyAITranscribeOperator(
        task_id="t",
        audio_url="https://x.invalid/a.wav",
        assemblyai_conn_id="nowhere",  # never read: the task allows the name itself
        redact_pii_policies=["person_name", "shoe_size"],
        allow_unlisted_pii_policies="Shoe_Size",
    )
    with caplog.at_level(logging.WARNING):
        fields = operator._request_fields()
    assert fields["redact_pii_policies"] == ["person_name", "shoe_size"]
    # The task logger writes through structlog to stdout, or through logging when configured so.
    logged = caplog.text + capsys.readouterr().out
    assert "sending ['shoe_size'], which this provider release does not know" in logged


def test_flags_rendered_by_jinja_as_text_are_flags() -> None:
    operator = AssemblyAITranscribeOperator(
        task_id="t", audio_url="https://x.invalid/a.wav", redact_pii="False", redact_pii_audio="false"
    )
    fields = operator._request_fields()
    assert (fields["redact_pii"], fields["redact_pii_audio"]) == (False, False)


def test_speech_models_are_sent_as_a_list_only_when_given() -> None:
    given = AssemblyAITranscribeOperator(
        task_id="t", speech_models="universal-2, universal-3-5-pro", **GOOD
    )._request_fields()
    assert given["speech_models"] == ["universal-2", "universal-3-5-pro"]
    default = AssemblyAITranscribeOperator(task_id="t", **GOOD)._request_fields()
    assert "speech_models" not in default  # the hook adds the connection's default chain


def test_redaction_fields_are_sent_only_with_redact_pii() -> None:
    operator = AssemblyAITranscribeOperator(
        task_id="t",
        audio_url="https://x.invalid/a.wav",
        redact_pii=False,
        redact_pii_audio=False,
        transcript_params={"speaker_labels": True},
    )
    assert operator._request_fields() == {
        "speaker_labels": True,
        "redact_pii": False,
        "redact_pii_audio": False,
        "webhook_url": None,
    }


def test_delete_needs_a_transcript_id() -> None:
    with pytest.raises(AssemblyAIInvalidInputError, match="transcript_id is empty"):
        AssemblyAIDeleteTranscriptOperator(task_id="d", transcript_id="").execute({})  # type: ignore[arg-type]
