"""The one question the purge asks the archive library: does this archive hold the transcript's record?"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import Context

from airflow_assemblyai.archive.verify import Verdict, holds_redacted_record
from airflow_assemblyai.testing.emulator import Emulator
from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
    AssemblyAIRedactedAudioToObjectStorageOperator,
)
from tests.support import WAV, s3_client


def archive(**kwargs: Any) -> str:
    operator = AssemblyAIRedactedAudioToObjectStorageOperator(task_id="archive", **kwargs)
    return operator.execute(cast("Context", {}))


def s3_hook() -> S3Hook:
    return S3Hook(aws_conn_id="aws_default")


def test_an_archived_audio_holds_its_transcript_and_no_other(
    assemblyai_connection: Emulator, s3_bucket: str
) -> None:
    tid = assemblyai_connection.add_transcript(params=WAV)
    other = assemblyai_connection.add_transcript(params=WAV)
    uri = archive(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")

    mine = holds_redacted_record(uri, tid, s3_hook=s3_hook)
    theirs = holds_redacted_record(uri, other, s3_hook=s3_hook)

    assert mine.holds
    assert f"holds the audio of transcript {tid}" in mine.reason
    assert theirs == Verdict(
        False,
        f"s3://{s3_bucket}/a.wav (archive_uri) holds the audio of transcript {tid}, not its redacted audio. "
        "Archive it first, or point archive_uri at its archive.",
    )


def test_changed_bytes_are_no_archive(
    assemblyai_connection: Emulator, s3_bucket: str, local_s3_endpoint: str
) -> None:
    tid = assemblyai_connection.add_transcript(params=WAV)
    uri = archive(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")
    s3 = s3_client(local_s3_endpoint)
    head = s3.head_object(Bucket=s3_bucket, Key="a.wav")
    body = bytearray(s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read())
    body[-1] ^= 0xFF
    s3.put_object(Bucket=s3_bucket, Key="a.wav", Body=bytes(body), Metadata=head["Metadata"])

    verdict = holds_redacted_record(uri, tid, s3_hook=s3_hook)

    assert not verdict.holds
    assert "the archive was changed or damaged" in verdict.reason


def test_a_record_outside_s3_is_checked_by_its_manifest(
    assemblyai_connection: Emulator, tmp_path: Path
) -> None:
    tid = assemblyai_connection.add_transcript(params=WAV)
    manifest = archive(transcript_id=tid, destination=f"file://{tmp_path}/a.wav", archive_record=True)

    verdict = holds_redacted_record(manifest, tid, s3_hook=s3_hook)
    audio_alone = holds_redacted_record(f"file://{tmp_path}/a.wav", tid, s3_hook=s3_hook)

    assert verdict == Verdict(
        True, f"{manifest} is the complete record of transcript {tid} (audio, srt, transcript, vtt)."
    )
    assert not audio_alone.holds
    assert "only a record's manifest shows whose audio they hold" in audio_alone.reason


def test_no_s3_connection_is_made_for_a_store_outside_s3(tmp_path: Path) -> None:
    def no_s3() -> S3Hook:
        raise AssertionError("an archive outside S3 needs no S3 hook")

    verdict = holds_redacted_record(f"file://{tmp_path}/missing.manifest.json", "t-1", s3_hook=no_s3)

    assert not verdict.holds
    assert verdict.reason.startswith(f"there is nothing at file://{tmp_path}/missing.manifest.json")


@pytest.mark.parametrize("uri", ["s3://bucket-only", "not a uri"])
def test_a_uri_that_names_no_object_is_refused_naming_the_field(uri: str) -> None:
    from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError

    with pytest.raises(AssemblyAIInvalidInputError, match="archive_uri"):
        holds_redacted_record(uri, "t-1", s3_hook=s3_hook)
