"""The transcribe and delete operators against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_assemblyai.exceptions import AssemblyAIFinalError, AssemblyAIInvalidInputError
from airflow_assemblyai.operators.delete import AssemblyAIDeleteTranscriptOperator
from airflow_assemblyai.operators.transcribe import AssemblyAITranscribeOperator
from airflow_assemblyai.testing.audio import synth_wav
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
    AssemblyAIRedactedAudioToObjectStorageOperator,
)
from tests.support import s3_client

pytestmark = pytest.mark.usefixtures("assemblyai_connection")

WAV_NO_POLICY = {"redact_pii": True, "redact_pii_audio": True, "redact_pii_audio_quality": "wav"}


def test_submit_sends_every_redaction_field(assemblyai_emulator: Emulator) -> None:
    operator = AssemblyAITranscribeOperator(
        task_id="transcribe",
        audio_url="https://example.invalid/call.wav",
        redact_pii_policies=["person_name", "credit_card_number"],
        redact_pii_sub="hash",
        redact_pii_audio_quality="wav",
        redact_pii_audio_options={"override_audio_redaction_method": "silence"},
        webhook_url="https://hooks.example.invalid/done",
        transcript_params={"speaker_labels": True},
    )
    transcript_id = operator.execute({})  # type: ignore[arg-type]
    transcript = operator.hook.get_transcript(transcript_id)
    assert transcript["redact_pii"] is True
    assert transcript["redact_pii_audio"] is True
    assert transcript["redact_pii_policies"] == ["person_name", "credit_card_number"]
    assert transcript["redact_pii_sub"] == "hash"
    assert transcript["redact_pii_audio_quality"] == "wav"
    assert transcript["redact_pii_audio_options"] == {"override_audio_redaction_method": "silence"}
    assert transcript["webhook_url"] == "https://hooks.example.invalid/done"
    assert transcript["speaker_labels"] is True


@pytest.mark.parametrize("kind", ["local", "object-storage"])
def test_a_file_is_uploaded_streamed_then_submitted(
    assemblyai_emulator: Emulator, tmp_path: Path, kind: str
) -> None:
    source = tmp_path / "call.wav"
    source.write_bytes(synth_wav(seconds=5.0))
    audio_path = str(source) if kind == "local" else ObjectStoragePath(f"file://{source}")
    operator = AssemblyAITranscribeOperator(
        task_id="transcribe",
        audio_path=audio_path,
        redact_pii_policies=["person_name"],
        redact_pii_audio_quality="wav",
    )
    transcript_id = operator.execute({})  # type: ignore[arg-type]
    uploads = [r for r in assemblyai_emulator.requests if r.path == "/v2/upload"]
    assert len(uploads) == 1
    assert uploads[0].headers.get("transfer-encoding") == "chunked"
    audio_url = operator.hook.get_transcript(transcript_id)["audio_url"]
    assert audio_url.startswith(f"{assemblyai_emulator.base_url}/_uploads/")
    assert len(assemblyai_emulator.redacted_audio(transcript_id)) == len(
        source.read_bytes()
    )  # same duration, as the WAV above


def test_a_missing_file_fails_before_any_request(assemblyai_emulator: Emulator) -> None:
    operator = AssemblyAITranscribeOperator(
        task_id="transcribe", audio_path="/nonexistent/call.wav", redact_pii_policies=["person_name"]
    )
    with pytest.raises(AssemblyAIInvalidInputError, match="audio_path"):
        operator.execute({})  # type: ignore[arg-type]
    assert not [r for r in assemblyai_emulator.requests if r.kind == "api"]


def test_delete_twice_succeeds_and_unknown_id_fails(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params={"redact_pii": True, "redact_pii_audio": True})
    for _ in range(2):
        AssemblyAIDeleteTranscriptOperator(task_id="delete", transcript_id=tid).execute({})  # type: ignore[arg-type]
    assert assemblyai_emulator.deleted(tid)
    with pytest.raises(AssemblyAIFinalError):
        AssemblyAIDeleteTranscriptOperator(task_id="delete", transcript_id="never-known").execute({})  # type: ignore[arg-type]


# -- the purge checks the archive first ---------------------------------------------------------------


def delete_after_archive(transcript_id: str, archive_uri: str | None) -> AssemblyAIDeleteTranscriptOperator:
    return AssemblyAIDeleteTranscriptOperator(
        task_id="delete", transcript_id=transcript_id, archive_uri=archive_uri
    )


def archive_audio(transcript_id: str, s3_key: str) -> str:
    """Archive the transcript's redacted audio alone (no record), as the batch DAG does."""
    return str(
        AssemblyAIRedactedAudioToObjectStorageOperator(
            task_id="archive", transcript_id=transcript_id, s3_key=s3_key
        ).execute({})  # type: ignore[arg-type]
    )


def test_delete_goes_ahead_when_the_archive_holds_the_transcripts_audio(
    assemblyai_emulator: Emulator, s3_bucket: str
) -> None:
    tid = assemblyai_emulator.add_transcript(params=WAV_NO_POLICY)
    uri = archive_audio(tid, f"s3://{s3_bucket}/calls/a#1.wav")
    assert uri == f"s3://{s3_bucket}/calls/a%231.wav"

    delete_after_archive(tid, uri).execute({})  # type: ignore[arg-type]

    assert assemblyai_emulator.deleted(tid)


def test_delete_compares_the_audios_digest_not_its_size_or_metadata(
    assemblyai_emulator: Emulator, s3_bucket: str, local_s3_endpoint: str
) -> None:
    tid = assemblyai_emulator.add_transcript(params=WAV_NO_POLICY)
    uri = archive_audio(tid, f"s3://{s3_bucket}/a.wav")
    s3 = s3_client(local_s3_endpoint)
    archived = s3.get_object(Bucket=s3_bucket, Key="a.wav")
    original = archived["Body"].read()
    # Same length, same metadata (transcript id, recorded length), other bytes.
    s3.put_object(
        Bucket=s3_bucket, Key="a.wav", Body=original[:-4] + b"\xff" * 4, Metadata=archived["Metadata"]
    )

    with pytest.raises(AssemblyAIFinalError, match="MD5 of the archived bytes") as caught:
        delete_after_archive(tid, uri).execute({})  # type: ignore[arg-type]

    assert "was not deleted" in str(caught.value)
    assert not assemblyai_emulator.deleted(tid)


def test_delete_fails_closed_when_the_audio_has_no_digest_to_show(
    assemblyai_emulator: Emulator, s3_bucket: str, local_s3_endpoint: str
) -> None:
    tid = assemblyai_emulator.add_transcript(params=WAV_NO_POLICY, faults=Faults(etag_style="multipart"))
    uri = archive_audio(tid, f"s3://{s3_bucket}/a.wav")
    # No MD5 of the source (a multipart ETag), and no digest recorded beside the audio either.
    s3 = s3_client(local_s3_endpoint)
    s3.delete_object(Bucket=s3_bucket, Key="a.wav.digest.json")

    with pytest.raises(AssemblyAIFinalError, match="archive_record=True") as caught:
        delete_after_archive(tid, uri).execute({})  # type: ignore[arg-type]

    assert "no MD5" in str(caught.value)
    assert "a.wav.digest.json" in str(caught.value)  # where the digest was looked for
    assert "Run the transfer task again" in str(caught.value)  # the fix
    assert not assemblyai_emulator.deleted(tid)


@pytest.mark.parametrize("etag_style", ["multipart", "none"])
def test_delete_goes_ahead_on_the_sha256_recorded_beside_the_audio_whatever_the_source_etag(
    assemblyai_emulator: Emulator, s3_bucket: str, etag_style: str
) -> None:
    tid = assemblyai_emulator.add_transcript(params=WAV_NO_POLICY, faults=Faults(etag_style=etag_style))
    uri = archive_audio(tid, f"s3://{s3_bucket}/a.wav")

    delete_after_archive(tid, uri).execute({})  # type: ignore[arg-type]

    assert assemblyai_emulator.deleted(tid)


def test_delete_refuses_other_bytes_of_the_same_length_by_the_recorded_sha256(
    assemblyai_emulator: Emulator, s3_bucket: str, local_s3_endpoint: str
) -> None:
    tid = assemblyai_emulator.add_transcript(params=WAV_NO_POLICY, faults=Faults(etag_style="multipart"))
    uri = archive_audio(tid, f"s3://{s3_bucket}/a.wav")
    s3 = s3_client(local_s3_endpoint)
    archived = s3.get_object(Bucket=s3_bucket, Key="a.wav")
    original = archived["Body"].read()
    # Same length, same metadata (transcript id, recorded length), other bytes; the digest file stays.
    s3.put_object(
        Bucket=s3_bucket, Key="a.wav", Body=original[:-4] + b"\xff" * 4, Metadata=archived["Metadata"]
    )

    with pytest.raises(AssemblyAIFinalError, match="SHA-256 of the archived bytes") as caught:
        delete_after_archive(tid, uri).execute({})  # type: ignore[arg-type]

    assert "was not deleted" in str(caught.value)
    assert "a.wav.digest.json" in str(caught.value)
    assert not assemblyai_emulator.deleted(tid)
    assert not [r for r in assemblyai_emulator.requests if r.method == "DELETE"]


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        (None, "there is no object at"),
        ({}, "an object this provider did not write"),
        ({"assemblyai-transcript-id": "another-transcript"}, "the audio of transcript another-transcript"),
        ({"assemblyai-transcript-id": "{tid}", "assemblyai-source-length": "999"}, "recorded as 999 bytes"),
    ],
    ids=["missing", "foreign", "another-transcript", "wrong-length"],
)
def test_delete_refuses_when_the_archive_does_not_hold_the_transcripts_audio(
    assemblyai_emulator: Emulator,
    s3_bucket: str,
    local_s3_endpoint: str,
    metadata: dict[str, str] | None,
    words: str,
) -> None:
    tid = assemblyai_emulator.add_transcript(params={"redact_pii": True, "redact_pii_audio": True})
    if metadata is not None:
        s3 = s3_client(local_s3_endpoint)
        filled = {k: v.format(tid=tid) for k, v in metadata.items()}
        s3.put_object(Bucket=s3_bucket, Key="a.wav", Body=b"RIFF....WAVE", Metadata=filled)

    with pytest.raises(AssemblyAIFinalError, match=words) as caught:
        delete_after_archive(tid, f"s3://{s3_bucket}/a.wav").execute({})  # type: ignore[arg-type]

    assert "was not deleted" in str(caught.value)
    assert not assemblyai_emulator.deleted(tid)
    assert not [r for r in assemblyai_emulator.requests if r.method == "DELETE"]


@pytest.mark.parametrize(
    ("transcript_id", "archive_uri", "field"),
    [
        ("x/../other", None, "transcript_id"),
        ("t-1", "", "archive_uri"),
        ("t-1", "bucket/a.wav", "archive_uri"),
    ],
)
def test_delete_bad_input_fails_before_any_request(
    assemblyai_emulator: Emulator, transcript_id: str, archive_uri: str | None, field: str
) -> None:
    with pytest.raises(AssemblyAIInvalidInputError, match=field):
        delete_after_archive(transcript_id, archive_uri).execute({})  # type: ignore[arg-type]

    assert assemblyai_emulator.requests == []
