"""Every validated field of the transcribe operator fails early, naming the field and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError
from airflow_assemblyai.operators.delete import AssemblyAIDeleteTranscriptOperator
from airflow_assemblyai.operators.transcribe import AssemblyAITranscribeOperator

GOOD: dict[str, Any] = {"audio_url": "https://example.invalid/a.wav", "redact_pii_policies": ["person_name"]}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"audio_url": None}, "exactly one of audio_url"),
        ({"audio_path": "/tmp/a.wav"}, "exactly one of audio_url"),
        ({"redact_pii": False}, "redact_pii_audio=True needs redact_pii=True"),
        ({"redact_pii_policies": []}, "redact_pii_policies is empty"),
        (
            {"redact_pii_policies": ["person_name", "shoe_size"]},
            r"redact_pii_policies has unknown names \['shoe_size'\]",
        ),
        ({"redact_pii_sub": "stars"}, "redact_pii_sub must be 'hash' or 'entity_name'"),
        ({"redact_pii_audio_quality": "flac"}, "redact_pii_audio_quality must be 'mp3' or 'wav'"),
        ({"redact_pii_audio_options": {"volume": 3}}, "redact_pii_audio_options accepts only"),
        ({"redact_pii_audio_options": {"override_audio_redaction_method": "beep"}}, "must be 'silence'"),
        ({"redact_pii_audio_options": {"return_redacted_no_speech_audio": "yes"}}, "must be True or False"),
        ({"transcript_params": {"redact_pii": False}}, r"transcript_params sets \['redact_pii'\]"),
        ({"transcript_params": ["speaker_labels"]}, "transcript_params must be a dict"),
    ],
)
def test_bad_input_is_rejected_at_construction(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(AssemblyAIInvalidInputError, match=field):
        AssemblyAITranscribeOperator(task_id="t", **{**GOOD, **changes})


def test_policies_may_be_a_comma_separated_string() -> None:
    operator = AssemblyAITranscribeOperator(
        task_id="t", audio_url="https://x.invalid/a.wav", redact_pii_policies="person_name, phone_number"
    )
    assert operator._request_fields()["redact_pii_policies"] == ["person_name", "phone_number"]


def test_templated_values_are_checked_after_rendering() -> None:
    operator = AssemblyAITranscribeOperator(
        task_id="t",
        audio_url="{{ params.url }}",
        audio_path="{{ params.path }}",
        redact_pii_policies=["person_name"],
    )
    operator.audio_url, operator.audio_path = "", ""  # what rendering empty params gives
    with pytest.raises(AssemblyAIInvalidInputError, match="exactly one of audio_url"):
        operator.execute({})  # type: ignore[arg-type]


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
