"""An audio archived alone (no record, no manifest) is listened to as well, its evidence kept beside it.

The purge asks for that evidence (``x.wav.redaction.json``, bound to the audio's SHA-256) as it
asks a record's manifest for its ``redaction_check``: without a passing one it deletes nothing.
"""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from airflow_assemblyai.exceptions import AssemblyAIFinalError, RedactionNotProvenError
from airflow_assemblyai.operators.delete import AssemblyAIDeleteTranscriptOperator
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.testing.speech import Speech, synthesize
from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
    AssemblyAIRedactedAudioToObjectStorageOperator,
)
from tests.integration.archive.test_redaction_evidence import (
    MP3_AUDIO,
    WAV_AUDIO,
    assert_warned_then_purged_only_when_allowed,
    keys_in,
    run,
)
from tests.support import transcript_reads

AUDIO = "calls/a.wav"
EVIDENCE = "calls/a.wav.redaction.json"


@pytest.fixture(scope="module")
def gb_160() -> Speech:
    return synthesize(voice="en-gb", speed=160)


def transfer(bucket: str, tid: str, **kwargs: Any) -> AssemblyAIRedactedAudioToObjectStorageOperator:
    kwargs.setdefault("s3_key", AUDIO)
    return AssemblyAIRedactedAudioToObjectStorageOperator(
        task_id="archive", transcript_id=tid, s3_bucket=bucket, **kwargs
    )


def delete(bucket: str, tid: str, key: str = AUDIO, **kwargs: Any) -> AssemblyAIDeleteTranscriptOperator:
    return AssemblyAIDeleteTranscriptOperator(
        task_id="purge", transcript_id=tid, archive_uri=f"s3://{bucket}/{key}", **kwargs
    )


def evidence_of(s3_client: Any, bucket: str, key: str = EVIDENCE) -> dict[str, Any]:
    return cast("dict[str, Any]", json.loads(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()))


def test_a_beeped_call_archived_alone_keeps_passing_evidence_bound_to_its_bytes_and_is_purged(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any, gb_160: Speech
) -> None:
    tid = assemblyai_connection.add_transcript(audio=gb_160.wav(), params=WAV_AUDIO)

    assert run(transfer(s3_bucket, tid)) == f"s3://{s3_bucket}/{AUDIO}"

    evidence = evidence_of(s3_client, s3_bucket)
    digest = evidence_of(s3_client, s3_bucket, f"{AUDIO}.digest.json")
    assert (evidence["transcript_id"], evidence["audio"]["sha256"]) == (tid, digest["sha256"])
    assert [s["policy"] for s in evidence["redacted_spans"]] == ["person_name", "phone_number"]
    check = evidence["redaction_check"]
    assert (check["mode"], check["ranges"], check["passed"]) == ("block", 2, True)
    assert [v["verdict"] for v in check["verdicts"]] == ["pass", "pass"]
    head = s3_client.head_object(Bucket=s3_bucket, Key=EVIDENCE)["Metadata"]
    assert head["assemblyai-transcript-id"] == tid

    run(delete(s3_bucket, tid))
    assert assemblyai_connection.deleted(tid)


def test_a_re_run_keeps_passing_evidence_without_listening_again(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any, gb_160: Speech
) -> None:
    tid = assemblyai_connection.add_transcript(audio=gb_160.wav(), params=MP3_AUDIO)
    run(transfer(s3_bucket, tid, s3_key="calls/a.mp3"))
    first = s3_client.head_object(Bucket=s3_bucket, Key="calls/a.mp3.redaction.json")["ETag"]
    reads = transcript_reads(assemblyai_connection, tid)

    run(transfer(s3_bucket, tid, s3_key="calls/a.mp3"))

    assert s3_client.head_object(Bucket=s3_bucket, Key="calls/a.mp3.redaction.json")["ETag"] == first
    assert (
        transcript_reads(assemblyai_connection, tid) == reads
    )  # the transcript's words were not fetched again


def test_a_span_left_as_speech_fails_the_audio_only_archive_writes_no_evidence_and_is_not_purged(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any, gb_160: Speech
) -> None:
    tid = assemblyai_connection.add_transcript(
        audio=gb_160.wav(), params=WAV_AUDIO, faults=Faults(unredacted_spans=(1,))
    )

    with pytest.raises(RedactionNotProvenError) as failed:
        run(transfer(s3_bucket, tid))

    message = str(failed.value)
    assert "phone_number" in message
    assert "no redaction evidence was written" in message
    assert "person_name" not in message
    assert AUDIO in keys_in(s3_client, s3_bucket)
    assert EVIDENCE not in keys_in(s3_client, s3_bucket)
    stored = s3_client.get_object(Bucket=s3_bucket, Key=AUDIO)["Body"].read()
    assert stored == assemblyai_connection.redacted_audio(tid)

    with pytest.raises(AssemblyAIFinalError, match="no redaction evidence"):
        run(delete(s3_bucket, tid))
    assert not assemblyai_connection.deleted(tid)


def test_warn_mode_records_the_failing_verdicts_and_the_purge_refuses_unless_told(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any, gb_160: Speech
) -> None:
    tid = assemblyai_connection.add_transcript(
        audio=gb_160.wav(), params=WAV_AUDIO, faults=Faults(unredacted_spans=(0,))
    )

    run(transfer(s3_bucket, tid, redaction_check="warn"))

    check = evidence_of(s3_client, s3_bucket)["redaction_check"]
    assert_warned_then_purged_only_when_allowed(
        check, assemblyai_connection, tid, lambda **kw: delete(s3_bucket, tid, **kw)
    )


def test_the_purge_refuses_audio_whose_evidence_is_missing_or_for_other_bytes(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    tid = assemblyai_connection.add_transcript(params=WAV_AUDIO)
    run(transfer(s3_bucket, tid))
    evidence = evidence_of(s3_client, s3_bucket)
    head = s3_client.head_object(Bucket=s3_bucket, Key=EVIDENCE)["Metadata"]

    s3_client.delete_object(Bucket=s3_bucket, Key=EVIDENCE)
    with pytest.raises(AssemblyAIFinalError, match="Run the transfer task again"):
        run(delete(s3_bucket, tid))

    evidence["audio"]["sha256"] = "0" * 64
    s3_client.put_object(Bucket=s3_bucket, Key=EVIDENCE, Body=json.dumps(evidence).encode(), Metadata=head)
    with pytest.raises(AssemblyAIFinalError, match="replaced after it was listened to"):
        run(delete(s3_bucket, tid))
    assert not assemblyai_connection.deleted(tid)

    # The transfer run again listens to the stored audio and records evidence for its bytes.
    run(transfer(s3_bucket, tid))
    run(delete(s3_bucket, tid))
    assert assemblyai_connection.deleted(tid)


def test_a_foreign_file_at_the_evidence_key_is_left_untouched(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key=EVIDENCE, Body=b"someone else's notes")
    tid = assemblyai_connection.add_transcript(params=WAV_AUDIO)

    with pytest.raises(AssemblyAIFinalError, match="left untouched"):
        run(transfer(s3_bucket, tid))

    assert s3_client.get_object(Bucket=s3_bucket, Key=EVIDENCE)["Body"].read() == b"someone else's notes"


def test_a_transcript_deleted_before_its_audio_was_listened_to_proves_nothing(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    # Audio archived by an earlier version (no evidence), its transcript purged unchecked since.
    tid = assemblyai_connection.add_transcript(params=WAV_AUDIO)
    run(transfer(s3_bucket, tid))
    s3_client.delete_object(Bucket=s3_bucket, Key=EVIDENCE)
    run(AssemblyAIDeleteTranscriptOperator(task_id="purge", transcript_id=tid))

    # Its words are gone: no ranges to listen to is no proof, and no passing evidence is written.
    with pytest.raises(AssemblyAIFinalError, match="was deleted at AssemblyAI: its words are gone"):
        run(transfer(s3_bucket, tid))
    assert EVIDENCE not in keys_in(s3_client, s3_bucket)
    assert AUDIO in keys_in(s3_client, s3_bucket)
