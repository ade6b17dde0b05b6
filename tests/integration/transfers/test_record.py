"""The whole redacted record (audio, transcript JSON, subtitles, manifest) against the emulator and moto."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
from airflow.sdk import Context

from airflow_assemblyai.archive.record import ALLOWED_FIELDS, UTTERANCE_KEYS, WORD_KEYS
from airflow_assemblyai.exceptions import AssemblyAIFinalError
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.operators.delete import AssemblyAIDeleteTranscriptOperator
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
    AssemblyAIRedactedAudioToObjectStorageOperator,
)

#: A transcript whose non-redacted fields carry PII and secrets in clear.
LEAKY = {
    "redact_pii": True,
    "redact_pii_audio": True,
    "redact_pii_policies": ["person_name", "phone_number"],
    "redact_pii_sub": "entity_name",
    "redact_pii_audio_quality": "wav",
    "speaker_labels": True,
    "entity_detection": True,
    "redact_pii_return_unredacted": True,
    "webhook_url": "https://hooks.example/notify?token=hook-secret",
    "webhook_auth_header_value": "hook-secret",
}
FILES = ("calls/a.wav", "calls/a.transcript.json", "calls/a.srt", "calls/a.vtt", "calls/a.manifest.json")
WRITES = {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}


class _Killed(BaseException):
    """Stands for SIGKILL: no ``except Exception`` (and so no clean-up) runs after it."""


def record_transfer(bucket: str, **kwargs: Any) -> AssemblyAIRedactedAudioToObjectStorageOperator:
    return AssemblyAIRedactedAudioToObjectStorageOperator(
        task_id="archive_record", s3_bucket=bucket, s3_key="calls/a.wav", archive_record=True, **kwargs
    )


def run(operator: Any) -> Any:
    return operator.execute(cast("Context", {}))


def s3_writes(operator: AssemblyAIRedactedAudioToObjectStorageOperator) -> list[tuple[str, str]]:
    """Record ``(operation, key)`` of every write the operator's S3 client sends."""
    sent: list[tuple[str, str]] = []

    def note(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name in WRITES:
            sent.append((model.name, params.get("url_path", "").rsplit("/calls/", 1)[-1]))

    operator.s3_hook.get_conn().meta.events.register("before-call.s3", note)
    return sent


def fail_on_put(
    operator: AssemblyAIRedactedAudioToObjectStorageOperator, key: str, error: BaseException
) -> None:
    """Make the operator's S3 client raise ``error`` when it is about to write ``key``."""

    def fail(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") == key:
            raise error

    operator.s3_hook.get_conn().meta.events.register("before-parameter-build.s3.PutObject", fail)


def keys_in(s3_client: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket).get("Contents", []))


def served(assemblyai_emulator: Emulator, tid: str, fmt: str, **params: Any) -> bytes:
    answer = httpx.get(
        f"{assemblyai_emulator.base_url}/v2/transcript/{tid}/{fmt}",
        params=params,
        headers={"Authorization": assemblyai_emulator.api_key},
    )
    answer.raise_for_status()
    return answer.content


def test_the_record_holds_allow_listed_json_served_subtitles_and_a_manifest(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    tid = assemblyai_connection.add_transcript(params=LEAKY)

    uri = run(record_transfer(s3_bucket, transcript_id=tid, chars_per_caption=20))

    assert uri == f"s3://{s3_bucket}/calls/a.manifest.json"
    assert keys_in(s3_client, s3_bucket) == sorted(FILES)
    body = s3_client.get_object(Bucket=s3_bucket, Key="calls/a.transcript.json")
    raw = body["Body"].read()
    document = json.loads(raw)
    assert set(document) <= {*ALLOWED_FIELDS, "schema", "archived_at"}
    assert document["id"] == tid
    assert document["redact_pii_policies"] == LEAKY["redact_pii_policies"]
    assert all(set(w) <= set(WORD_KEYS) for w in document["words"])
    assert all(set(u) <= set(UTTERANCE_KEYS) for u in document["utterances"])
    assert [u["speaker"] for u in document["utterances"]] == ["A", "B"]
    for secret in (b"Jane", b"0100", b"hook-secret", b"example.invalid"):
        assert secret not in raw
    assert body["ContentType"] == "application/json"
    assert body["Metadata"]["assemblyai-transcript-id"] == tid
    for fmt, content_type in (("srt", "application/x-subrip"), ("vtt", "text/vtt")):
        obj = s3_client.get_object(Bucket=s3_bucket, Key=f"calls/a.{fmt}")
        assert obj["Body"].read() == served(assemblyai_connection, tid, fmt, chars_per_caption=20)
        assert obj["ContentType"] == content_type
        assert obj["Metadata"]["assemblyai-transcript-id"] == tid
    manifest = json.loads(s3_client.get_object(Bucket=s3_bucket, Key="calls/a.manifest.json")["Body"].read())
    assert manifest["transcript_id"] == tid
    assert {role: f["key"] for role, f in manifest["files"].items()} == dict(
        zip(("audio", "transcript", "srt", "vtt"), FILES[:4], strict=True)
    )
    assert manifest["files"]["audio"]["size"] == len(assemblyai_connection.redacted_audio(tid))
    assert manifest["files"]["transcript"]["size"] == len(raw)


def test_a_named_extra_field_is_archived_with_a_warning(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    assemblyai_connection.add_transcript(params=LEAKY)
    tid = assemblyai_connection.add_transcript(params=LEAKY)
    with caplog.at_level(logging.WARNING):
        run(record_transfer(s3_bucket, transcript_id=tid, include_transcript_fields=["entities"]))
    document = json.loads(
        s3_client.get_object(Bucket=s3_bucket, Key="calls/a.transcript.json")["Body"].read()
    )
    assert any("Jane" in e["text"] for e in document["entities"])
    assert "unredacted_text" not in document
    assert "beyond the redacted allow-list" in caplog.text


def test_a_rerun_writes_nothing_twice(assemblyai_connection: Emulator, s3_bucket: str) -> None:
    tid = assemblyai_connection.add_transcript(params=LEAKY)
    run(record_transfer(s3_bucket, transcript_id=tid))
    again = record_transfer(s3_bucket, transcript_id=tid)
    writes = s3_writes(again)
    downloads_before = sum(1 for r in assemblyai_connection.requests if r.kind == "download")

    assert run(again) == f"s3://{s3_bucket}/calls/a.manifest.json"

    assert writes == []
    assert sum(1 for r in assemblyai_connection.requests if r.kind == "download") == downloads_before


def downloads(assemblyai_emulator: Emulator) -> int:
    return sum(1 for r in assemblyai_emulator.requests if r.kind == "download")


def test_a_failure_after_the_audio_landed_keeps_it_and_the_rerun_completes_without_downloading(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    tid = assemblyai_connection.add_transcript(params=LEAKY)
    operator = record_transfer(s3_bucket, transcript_id=tid)
    fail_on_put(operator, "calls/a.vtt", RuntimeError("the store refused the subtitles"))

    with pytest.raises(RuntimeError, match="refused the subtitles"):
        run(operator)

    # The verified audio, JSON and SRT stay; without a manifest the record is not complete.
    assert keys_in(s3_client, s3_bucket) == sorted(FILES[:3])
    assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    seen = downloads(assemblyai_connection)
    rerun = record_transfer(s3_bucket, transcript_id=tid)
    writes = s3_writes(rerun)

    run(rerun)

    assert writes == [("PutObject", "a.vtt"), ("PutObject", "a.manifest.json")]
    assert downloads(assemblyai_connection) == seen
    assert keys_in(s3_client, s3_bucket) == sorted(FILES)


def test_a_failing_replace_keeps_the_manifest_and_a_replace_rerun_completes(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    tid = assemblyai_connection.add_transcript(params=LEAKY)
    run(record_transfer(s3_bucket, transcript_id=tid))
    replacing = record_transfer(s3_bucket, transcript_id=tid, replace=True)
    fail_on_put(replacing, "calls/a.srt", RuntimeError("the store refused the subtitles"))

    with pytest.raises(RuntimeError, match="refused the subtitles"):
        run(replacing)

    assert keys_in(s3_client, s3_bucket) == sorted(FILES)  # the manifest was never deleted first
    run(record_transfer(s3_bucket, transcript_id=tid, replace=True))
    purge = AssemblyAIDeleteTranscriptOperator(
        task_id="purge", transcript_id=tid, archive_uri=f"s3://{s3_bucket}/calls/a.manifest.json"
    )
    run(purge)
    assert assemblyai_connection.deleted(tid)


def test_a_taken_sibling_key_is_found_before_the_audio_is_downloaded(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key="calls/a.vtt", Body=b"someone else's subtitles")
    tid = assemblyai_connection.add_transcript(params=LEAKY)

    with pytest.raises(AssemblyAIFinalError, match=r"calls/a\.vtt already exists"):
        run(record_transfer(s3_bucket, transcript_id=tid))

    assert downloads(assemblyai_connection) == 0
    assert keys_in(s3_client, s3_bucket) == ["calls/a.vtt"]


@pytest.mark.parametrize("etag_style", ["md5", "multipart", "none"])
def test_the_manifest_lists_the_audios_sha256_and_an_md5_or_no_source_md5(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any, etag_style: str
) -> None:
    tid = assemblyai_connection.add_transcript(params=LEAKY, faults=Faults(etag_style=etag_style))
    run(record_transfer(s3_bucket, transcript_id=tid))
    manifest = json.loads(s3_client.get_object(Bucket=s3_bucket, Key="calls/a.manifest.json")["Body"].read())
    audio = assemblyai_connection.redacted_audio(tid)
    listed = manifest["files"]["audio"]
    assert listed["sha256"] == hashlib.sha256(audio).hexdigest()
    if etag_style == "md5":
        assert listed["source_md5"] == hashlib.md5(audio).hexdigest()
    else:
        assert "source_md5" not in listed


def test_no_file_of_the_record_but_the_audio_passes_as_its_audio(
    assemblyai_connection: Emulator, s3_bucket: str
) -> None:
    tid = assemblyai_connection.add_transcript(params=LEAKY)
    run(record_transfer(s3_bucket, transcript_id=tid))
    for key in FILES[1:4]:
        purge = AssemblyAIDeleteTranscriptOperator(
            task_id="purge", transcript_id=tid, archive_uri=f"s3://{s3_bucket}/{key}"
        )
        with pytest.raises(AssemblyAIFinalError, match="not its redacted audio"):
            run(purge)
    assert not assemblyai_connection.deleted(tid)


def test_a_killed_attempt_leaves_no_manifest_and_the_rerun_completes_it(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    tid = assemblyai_connection.add_transcript(params=LEAKY)
    first = record_transfer(s3_bucket, transcript_id=tid)
    fail_on_put(first, "calls/a.vtt", _Killed())
    with pytest.raises(_Killed):
        run(first)
    assert keys_in(s3_client, s3_bucket) == sorted(FILES[:3])
    purge = AssemblyAIDeleteTranscriptOperator(
        task_id="purge", transcript_id=tid, archive_uri=f"s3://{s3_bucket}/calls/a.manifest.json"
    )
    with pytest.raises(AssemblyAIFinalError, match="there is no object"):
        run(purge)

    rerun = record_transfer(s3_bucket, transcript_id=tid)
    writes = s3_writes(rerun)
    run(rerun)

    assert writes == [("PutObject", "a.vtt"), ("PutObject", "a.manifest.json")]
    assert keys_in(s3_client, s3_bucket) == sorted(FILES)
    run(purge)
    assert assemblyai_connection.deleted(tid)


def test_the_purge_checks_every_file_the_manifest_lists(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    tid = assemblyai_connection.add_transcript(params=LEAKY)
    manifest_uri = run(record_transfer(s3_bucket, transcript_id=tid))
    purge = AssemblyAIDeleteTranscriptOperator(task_id="purge", transcript_id=tid, archive_uri=manifest_uri)
    audio = s3_client.get_object(Bucket=s3_bucket, Key="calls/a.wav")
    original = audio["Body"].read()
    # The same length and metadata, other bytes: only the digest tells them apart.
    s3_client.put_object(
        Bucket=s3_bucket, Key="calls/a.wav", Body=original[:-4] + b"\xff" * 4, Metadata=audio["Metadata"]
    )
    with pytest.raises(
        AssemblyAIFinalError, match=r"damaged: s3://.*/calls/a\.wav holds bytes whose SHA-256"
    ):
        run(purge)
    s3_client.put_object(Bucket=s3_bucket, Key="calls/a.wav", Body=original, Metadata=audio["Metadata"])
    s3_client.put_object(Bucket=s3_bucket, Key="calls/a.srt", Body=b"shorter")
    with pytest.raises(AssemblyAIFinalError, match=r"damaged: s3://.*/calls/a\.srt holds 7 bytes"):
        run(purge)
    s3_client.delete_object(Bucket=s3_bucket, Key="calls/a.srt")
    with pytest.raises(AssemblyAIFinalError, match=r"calls/a\.srt is missing"):
        run(purge)
    assert not assemblyai_connection.deleted(tid)
    other = assemblyai_connection.add_transcript(params=LEAKY)
    with pytest.raises(AssemblyAIFinalError, match=f"record of transcript {tid}, not of {other}"):
        run(AssemblyAIDeleteTranscriptOperator(task_id="p2", transcript_id=other, archive_uri=manifest_uri))


def test_another_transcripts_record_is_left_untouched(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    first = assemblyai_connection.add_transcript(params=LEAKY)
    run(record_transfer(s3_bucket, transcript_id=first))
    before = s3_client.get_object(Bucket=s3_bucket, Key="calls/a.manifest.json")["ETag"]
    second = assemblyai_connection.add_transcript(params=LEAKY)
    with pytest.raises(AssemblyAIFinalError, match=f"record of transcript {first}, not of {second}"):
        run(record_transfer(s3_bucket, transcript_id=second))
    assert s3_client.get_object(Bucket=s3_bucket, Key="calls/a.manifest.json")["ETag"] == before


def test_object_lock_retention_and_legal_hold_on_every_file(
    assemblyai_connection: Emulator, local_s3_endpoint: str, s3_bucket: str, s3_client: Any
) -> None:
    locked = f"{s3_bucket}-locked"
    s3_client.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    tid = assemblyai_connection.add_transcript(params=LEAKY)
    run(
        record_transfer(
            locked,
            transcript_id=tid,
            object_lock_mode="GOVERNANCE",
            object_lock_retain_until=timedelta(days=1),
            object_lock_legal_hold=True,
        )
    )
    for key in FILES:
        head = s3_client.head_object(Bucket=locked, Key=key)
        assert head["ObjectLockMode"] == "GOVERNANCE", key
        assert head["ObjectLockRetainUntilDate"] is not None, key
        assert head["ObjectLockLegalHoldStatus"] == "ON", key


def test_hook_subtitles_are_the_bytes_served(assemblyai_connection: Emulator) -> None:
    tid = assemblyai_connection.add_transcript(params=LEAKY)
    hook = AssemblyAIHook()
    assert hook.get_subtitles(tid, "vtt", chars_per_caption=12) == served(
        assemblyai_connection, tid, "vtt", chars_per_caption=12
    )
    assert hook.get_subtitles(tid, "srt") == served(assemblyai_connection, tid, "srt")
