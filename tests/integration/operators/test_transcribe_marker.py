"""The transcribe operator's submission marker, against the emulator and a moto S3 server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_assemblyai.exceptions import (
    AssemblyAIFinalError,
    AssemblyAIRequestError,
    AssemblyAITransientError,
)
from airflow_assemblyai.operators.transcribe import AssemblyAITranscribeOperator
from airflow_assemblyai.testing.emulator import Emulator

pytestmark = pytest.mark.usefixtures("assemblyai_connection")

AUDIO_URL = "https://example.invalid/call.wav?X-Amz-Signature=secret"


def transcribe(bucket: str) -> AssemblyAITranscribeOperator:
    return AssemblyAITranscribeOperator(
        task_id="transcribe",
        audio_url=AUDIO_URL,
        redact_pii_policies=["person_name"],
        submission_marker=f"s3://{bucket}/markers/call.wav.submission.json",
    )


def marker(s3_client: Any, bucket: str) -> dict[str, Any] | None:
    try:
        body = s3_client.get_object(Bucket=bucket, Key="markers/call.wav.submission.json")["Body"].read()
    except s3_client.exceptions.NoSuchKey:
        return None
    return dict(json.loads(body))


def test_a_recorded_submission_is_resumed_without_any_request(
    assemblyai_emulator: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    emulator = assemblyai_emulator
    transcript_id = transcribe(s3_bucket).execute({})  # type: ignore[arg-type]

    written = marker(s3_client, s3_bucket)
    assert written is not None
    assert written["transcript_id"] == transcript_id
    assert set(written) == {"transcript_id", "started_at", "submitted_at"}  # no URL, no key
    assert "example.invalid" not in json.dumps(written)
    emulator.requests.clear()

    assert transcribe(s3_bucket).execute({}) == transcript_id  # type: ignore[arg-type]
    assert emulator.count() == 0


def test_a_submission_whose_answer_was_lost_is_never_sent_again(
    assemblyai_emulator: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    emulator = assemblyai_emulator
    emulator.queue_responses([500])  # the POST's answer: the transcript may or may not exist
    with pytest.raises(AssemblyAITransientError):
        transcribe(s3_bucket).execute({})  # type: ignore[arg-type]
    claim = marker(s3_client, s3_bucket)
    assert claim is not None
    assert "transcript_id" not in claim
    emulator.requests.clear()

    with pytest.raises(AssemblyAIFinalError, match="may have reached AssemblyAI") as raised:
        transcribe(s3_bucket).execute({})  # type: ignore[arg-type]
    assert emulator.count() == 0  # not sent again
    assert f"s3://{s3_bucket}/markers/call.wav.submission.json" in str(raised.value)
    assert "delete the marker" in str(raised.value)


def test_a_refused_submission_leaves_no_marker_so_the_next_run_submits(
    assemblyai_emulator: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    emulator = assemblyai_emulator
    emulator.queue_responses([400])  # AssemblyAI refused: no transcript exists
    with pytest.raises(AssemblyAIRequestError):
        transcribe(s3_bucket).execute({})  # type: ignore[arg-type]
    assert marker(s3_client, s3_bucket) is None

    transcript_id = transcribe(s3_bucket).execute({})  # type: ignore[arg-type]
    assert (marker(s3_client, s3_bucket) or {}).get("transcript_id") == transcript_id
    assert emulator.count("POST", "/v2/transcript") == 2


def test_an_id_written_into_a_claim_by_hand_is_resumed(
    assemblyai_emulator: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    emulator = assemblyai_emulator
    transcript_id = emulator.add_transcript(params={"redact_pii": True, "redact_pii_audio": True})
    s3_client.put_object(
        Bucket=s3_bucket,
        Key="markers/call.wav.submission.json",
        Body=json.dumps({"transcript_id": transcript_id}).encode(),
    )
    emulator.requests.clear()

    assert transcribe(s3_bucket).execute({}) == transcript_id  # type: ignore[arg-type]
    assert emulator.count() == 0
