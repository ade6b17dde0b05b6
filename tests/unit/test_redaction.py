"""The decision table that the sensor and the trigger share, row by row."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_assemblyai.exceptions import (
    AssemblyAIFinalError,
    AssemblyAIRequestError,
    AssemblyAIUnexpectedResponseError,
    RedactedAudioExpiredError,
    RedactionNotRequestedError,
    TranscriptFailedError,
    TranscriptNotFoundError,
)
from airflow_assemblyai.redaction import (
    NOT_FOUND_TEXT,
    NOT_REQUESTED_TEXT,
    PENDING_TEXT,
    audio_format_of,
    judge_redacted_audio_answer,
    judge_transcript,
)

SIGNED_URL = "https://s3.example/abc.mp3?Expires=1&Signature=sig-value-123"


@pytest.mark.parametrize("status", ["queued", "processing"])
def test_unfinished_transcript_means_wait(status: str) -> None:
    verdict = judge_transcript("t1", {"status": status, "redact_pii_audio": True})
    assert verdict is not None
    assert verdict.state == "waiting"
    assert verdict.reason == status
    assert not verdict.ready


def test_failed_transcript_is_final_with_the_api_text() -> None:
    with pytest.raises(TranscriptFailedError, match="Download error, unable to download") as info:
        judge_transcript("t1", {"status": "error", "error": "Download error, unable to download audio"})
    assert isinstance(info.value, AssemblyAIFinalError)


def test_completed_transcript_asks_for_the_audio() -> None:
    assert judge_transcript("t1", {"status": "completed", "redact_pii_audio": True}) is None


def test_completed_without_redaction_is_final() -> None:
    with pytest.raises(RedactionNotRequestedError, match="redact_pii_audio=True"):
        judge_transcript("t1", {"status": "completed", "redact_pii_audio": False})


def test_unknown_status_is_rejected() -> None:
    with pytest.raises(AssemblyAIUnexpectedResponseError, match="unknown status 'paused'"):
        judge_transcript("t1", {"status": "paused"})


@pytest.mark.parametrize(
    ("transcript", "expected"),
    [({}, "mp3"), ({"redact_pii_audio_quality": "mp3"}, "mp3"), ({"redact_pii_audio_quality": "wav"}, "wav")],
)
def test_audio_format_defaults_to_mp3(transcript: dict[str, Any], expected: str) -> None:
    assert audio_format_of(transcript) == expected


def test_ready_answer_carries_the_url_but_hides_it_from_repr() -> None:
    audio = judge_redacted_audio_answer(
        "t1", 200, {"status": "redacted_audio_ready", "redacted_audio_url": SIGNED_URL}
    )
    assert audio.ready
    assert audio.url == SIGNED_URL
    assert "Signature" not in repr(audio)


def test_ready_answer_without_url_is_unexpected() -> None:
    with pytest.raises(AssemblyAIUnexpectedResponseError):
        judge_redacted_audio_answer("t1", 200, {"status": "redacted_audio_ready"})


@pytest.mark.parametrize(("code", "body"), [(202, {}), (400, {"error": PENDING_TEXT})])
def test_rendering_and_in_progress_mean_wait(code: int, body: dict[str, Any]) -> None:
    assert not judge_redacted_audio_answer("t1", code, body).ready


@pytest.mark.parametrize(
    ("code", "text", "error_type"),
    [
        (400, NOT_REQUESTED_TEXT, RedactionNotRequestedError),
        (400, NOT_FOUND_TEXT, TranscriptNotFoundError),
        (404, "", TranscriptNotFoundError),
        (400, "The redacted audio file has expired.", RedactedAudioExpiredError),
        (400, "Something new went wrong", AssemblyAIRequestError),
    ],
)
def test_every_other_400_is_final_and_keeps_the_api_text(code: int, text: str, error_type: type) -> None:
    with pytest.raises(error_type) as info:
        judge_redacted_audio_answer("t1", code, {"error": text})
    assert isinstance(info.value, AssemblyAIFinalError)
    assert info.value.http_status == code
    assert text in str(info.value)
    assert "t1" in str(info.value)


PRESIGNED = (
    "https://bucket.s3.us-east-1.amazonaws.com/calls/jane-doe.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=ASIAKEYID123%2F20250101%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Security-Token=tok%2Bsession%3D&X-Amz-Signature=0badc0ffee5ign"
)
SECRET_PARTS = (
    "ASIAKEYID123",
    "tok%2Bsession",
    "tok+session",
    "0badc0ffee5ign",
    "X-Amz-Credential",
    "jane-doe",
)


def test_a_failed_transcripts_text_is_masked_before_it_enters_the_error() -> None:
    text = f"Download error, unable to download {PRESIGNED}. Please make sure the file exists."
    with pytest.raises(TranscriptFailedError) as info:
        judge_transcript("t1", {"status": "error", "error": text})
    message = str(info.value)
    assert "Download error, unable to download https://bucket.s3.us-east-1.amazonaws.com/***." in message
    assert all(part not in message for part in SECRET_PARTS)


def test_a_redacted_audio_400_text_is_masked_in_the_error_and_its_api_error() -> None:
    with pytest.raises(AssemblyAIRequestError) as info:
        judge_redacted_audio_answer("t1", 400, {"error": f"Cannot serve {PRESIGNED}"})
    assert all(part not in str(info.value) for part in SECRET_PARTS)
    assert all(part not in str(info.value.api_error) for part in SECRET_PARTS)
