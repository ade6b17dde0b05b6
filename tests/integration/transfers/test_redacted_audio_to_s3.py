"""The redacted-audio transfer against the AssemblyAI emulator and a moto S3 server, both on loopback."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from airflow_assemblyai.exceptions import (
    AssemblyAIError,
    AssemblyAIFinalError,
    AssemblyAIInvalidInputError,
    AssemblyAITransientError,
    RedactedAudioExpiredError,
    RedactedAudioIntegrityError,
    RedactionNotRequestedError,
    TranscriptFailedError,
    TranscriptNotFoundError,
)
from airflow_assemblyai.testing.emulator import Emulator, Faults, RecordedRequest
from airflow_assemblyai.testing.loopback import assemblyai_connection_env
from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
    AssemblyAIRedactedAudioToObjectStorageOperator,
)
from tests.support import FAST_RETRIES, REDACT, WAV, s3_client

MiB = 1024 * 1024


@pytest.fixture
def emu(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """Return the emulator with ``assemblyai_default`` pointing at it (fast retries)."""
    env = assemblyai_connection_env(api_key=emulator.api_key, base_url=emulator.base_url, **FAST_RETRIES)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return emulator


@pytest.fixture
def s3(moto_server: str) -> Any:
    return s3_client(moto_server)


#: With one part held in memory, reading part N+2 waits until part N was uploaded: a failure while
#: reading the third part therefore always comes after an UploadPart, however loaded the machine is.
ONE_PART_IN_MEMORY: dict[str, Any] = {"transfer_config_args": {"max_in_memory_upload_chunks": 1}}


def transfer(**kwargs: Any) -> AssemblyAIRedactedAudioToObjectStorageOperator:
    return AssemblyAIRedactedAudioToObjectStorageOperator(task_id="copy_redacted_audio", **kwargs)


def run(operator: AssemblyAIRedactedAudioToObjectStorageOperator) -> str:
    return operator.execute(cast("Context", {}))


def record_s3_calls(operator: AssemblyAIRedactedAudioToObjectStorageOperator) -> list[str]:
    """Record the name of every S3 API call the operator's client makes."""
    calls: list[str] = []
    operator.s3_hook.get_conn().meta.events.register(
        "before-call.s3", lambda model, **_: calls.append(model.name)
    )
    return calls


def downloads(emu: Emulator) -> list[RecordedRequest]:
    return [r for r in emu.requests if r.kind == "download"]


def redacted_audio_calls(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.kind == "api" and r.path.endswith("/redacted-audio"))


def uploads_left(s3: Any, bucket: str) -> list[dict[str, Any]]:
    return list(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    return bool(s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount"))


def assert_aborted_mid_upload(calls: list[str], s3: Any, bucket: str, key: str) -> None:
    """Assert parts were uploaded, then the upload aborted: no object, no unfinished upload."""
    assert "UploadPart" in calls
    assert "AbortMultipartUpload" in calls
    assert "CompleteMultipartUpload" not in calls
    assert not object_exists(s3, bucket, key)
    assert uploads_left(s3, bucket) == []


# -- the copy ---------------------------------------------------------------------------------------


def test_multipart_copy_is_byte_identical_labelled_and_checksummed(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=20 * MiB))
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="calls/a.wav")
    calls = record_s3_calls(operator)

    assert run(operator) == f"s3://{s3_bucket}/calls/a.wav"

    obj = s3.get_object(Bucket=s3_bucket, Key="calls/a.wav", ChecksumMode="ENABLED")
    audio = emu.redacted_audio(tid)
    assert obj["Body"].read() == audio
    assert obj["ContentType"] == "audio/wav"
    assert obj["Metadata"] == {
        "assemblyai-transcript-id": tid,
        "assemblyai-source-etag": hashlib.md5(audio).hexdigest(),
        "assemblyai-source-length": str(20 * MiB),
        "assemblyai-audio-format": "wav",
        "assemblyai-record-role": "audio",
        "assemblyai-source-md5": hashlib.md5(audio).hexdigest(),
    }
    assert calls.count("UploadPart") == 3
    assert "CompleteMultipartUpload" in calls
    assert obj["ETag"].endswith('-3"')
    assert "ChecksumCRC32" in obj
    assert uploads_left(s3, s3_bucket) == []


def test_small_mp3_is_one_put_labelled_audio_mpeg(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    pytest.importorskip("lameenc", reason="the emulator renders MP3 only with lameenc")
    tid = emu.add_transcript(params=REDACT)
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.mp3")
    calls = record_s3_calls(operator)

    run(operator)

    obj = s3.get_object(Bucket=s3_bucket, Key="a.mp3")
    assert obj["Body"].read() == emu.redacted_audio(tid)
    assert obj["ContentType"] == "audio/mpeg"
    assert "PutObject" in calls
    assert "CreateMultipartUpload" not in calls


def test_content_type_follows_the_bytes_and_a_misleading_suffix_is_warned_about(
    emu: Emulator, s3_bucket: str, s3: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    # The transcript asks for mp3 (the default) but the file host serves a WAV.
    tid = emu.add_transcript(params=REDACT, faults=Faults(redacted_size_bytes=MiB))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.audio"))
    assert "is named" not in "".join(capfd.readouterr())
    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="b.mp3"))

    for key in ("a.audio", "b.mp3"):
        assert s3.head_object(Bucket=s3_bucket, Key=key)["ContentType"] == "audio/wav"
    assert "is wav but its target b.mp3 is named .mp3" in "".join(capfd.readouterr())


def test_s3_url_in_s3_key_is_accepted(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV)

    uri = run(transfer(transcript_id=tid, s3_key=f"s3://{s3_bucket}/x/y.wav"))

    assert uri == f"s3://{s3_bucket}/x/y.wav"
    assert s3.get_object(Bucket=s3_bucket, Key="x/y.wav")["Body"].read() == emu.redacted_audio(tid)


# -- riding out faults ------------------------------------------------------------------------------


def test_cut_download_resumes_with_range_from_the_last_byte(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    faults = Faults(redacted_size_bytes=20 * MiB, cut_download_after=5 * MiB, cut_downloads=2)
    tid = emu.add_transcript(params=WAV, faults=faults)

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    served = downloads(emu)
    assert [r.status for r in served] == [206, 206, 206]
    assert [r.headers.get("range") for r in served] == ["bytes=0-", f"bytes={5 * MiB}-", f"bytes={10 * MiB}-"]
    assert redacted_audio_calls(emu) == 1  # a cut alone does not need a new URL


def test_expired_url_is_replaced_by_a_fresh_one(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=10 * MiB, expired_urls=1))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    assert [r.status for r in downloads(emu)] == [403, 206]
    assert redacted_audio_calls(emu) == 2
    first, second = (r.query["Signature"] for r in downloads(emu))
    assert first != second


def test_api_faults_are_ridden_out(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(api_errors=[503, 429], retry_after=0))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    assert [r.status for r in emu.requests if r.kind == "api"][:2] == [503, 429]


def test_file_host_5xx_is_retried(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(download_statuses=[503, 500]))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert [r.status for r in downloads(emu)] == [503, 500, 206]
    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)


def test_the_file_host_never_sees_the_api_key(emu: Emulator, s3_bucket: str) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(cut_download_after=10_000, expired_urls=1))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert len(downloads(emu)) >= 3
    assert emu.violations == []
    assert all("authorization" not in r.headers for r in downloads(emu))
    assert all(r.headers.get("authorization") == emu.api_key for r in emu.requests if r.kind == "api")


# -- final errors fail fast, and leave nothing behind ---------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "error"),
    [
        pytest.param(
            lambda emu: emu.add_transcript(status="error", params=WAV), TranscriptFailedError, id="failed"
        ),
        pytest.param(
            lambda emu: emu.add_transcript(params={"redact_pii": True}),
            RedactionNotRequestedError,
            id="not-requested",
        ),
        pytest.param(lambda emu: _expired(emu), RedactedAudioExpiredError, id="expired"),
        pytest.param(lambda emu: "0123456789abcdef", TranscriptNotFoundError, id="unknown-id"),
    ],
)
def test_final_errors_fail_at_once_and_write_nothing(
    emu: Emulator, s3_bucket: str, s3: Any, seed: Callable[[Emulator], str], error: type[Exception]
) -> None:
    tid = seed(emu)

    with pytest.raises(error) as caught:
        run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert isinstance(caught.value, AirflowFailException)
    assert downloads(emu) == []
    assert [r.status for r in emu.requests if r.kind == "api" and r.status >= 500] == []
    assert not object_exists(s3, s3_bucket, "a.wav")
    assert uploads_left(s3, s3_bucket) == []


def test_an_archive_asks_assemblyai_once_and_an_unfinished_transcript_is_explained(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    tid = emu.add_transcript(params=WAV)
    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))
    # One request for a fresh URL; the transcript is not read when its audio is there.
    assert [r.path for r in emu.requests if r.kind == "api"] == [f"/v2/transcript/{tid}/redacted-audio"]

    processing = emu.add_transcript(status="processing", params=WAV)
    with pytest.raises(AssemblyAIError, match=f"Transcript {processing} is still processing"):
        run(transfer(transcript_id=processing, s3_bucket=s3_bucket, s3_key="b.wav"))
    assert not object_exists(s3, s3_bucket, "b.wav")


def _expired(emu: Emulator) -> str:
    tid = emu.add_transcript(params=WAV)
    emu.expire(tid)
    return tid


def test_mismatching_md5_aborts_the_upload_mid_way(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=20 * MiB))
    emu.corrupt_redacted_audio(tid, 18 * MiB)  # one byte in the last part, length unchanged
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", **ONE_PART_IN_MEMORY)
    calls = record_s3_calls(operator)

    with pytest.raises(RedactedAudioIntegrityError, match="MD5"):
        run(operator)

    assert_aborted_mid_upload(calls, s3, s3_bucket, "a.wav")


def test_cut_that_exhausts_the_resume_budget_aborts_the_upload(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    faults = Faults(redacted_size_bytes=20 * MiB, cut_download_after=6 * MiB, cut_downloads=10)
    tid = emu.add_transcript(params=WAV, faults=faults)
    operator = transfer(
        transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", max_download_attempts=3, **ONE_PART_IN_MEMORY
    )
    calls = record_s3_calls(operator)

    with pytest.raises(AssemblyAITransientError, match="within 3 attempts") as caught:
        run(operator)

    assert len(downloads(emu)) == 3
    assert "UploadPart" in calls
    assert "AbortMultipartUpload" in calls
    assert not object_exists(s3, s3_bucket, "a.wav")
    assert uploads_left(s3, s3_bucket) == []
    assert emu.base_url not in str(caught.value)
    assert "Signature" not in str(caught.value)


def test_unfinished_upload_of_the_same_key_is_aborted_first(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    s3.create_multipart_upload(Bucket=s3_bucket, Key="a.wav")
    s3.create_multipart_upload(Bucket=s3_bucket, Key="a.wav.other")
    tid = emu.add_transcript(params=WAV)

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert [u["Key"] for u in uploads_left(s3, s3_bucket)] == ["a.wav.other"]
    assert object_exists(s3, s3_bucket, "a.wav")


# -- exactly once ----------------------------------------------------------------------------------


def test_rerun_finds_its_own_object_even_after_the_source_is_gone(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    tid = emu.add_transcript(params=WAV)
    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))
    first = s3.head_object(Bucket=s3_bucket, Key="a.wav")
    emu.expire(tid)
    seen = len(emu.requests)

    assert run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")) == f"s3://{s3_bucket}/a.wav"

    assert len(emu.requests) == seen  # not even an API call
    assert s3.head_object(Bucket=s3_bucket, Key="a.wav")["LastModified"] == first["LastModified"]


def recorded_digest(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    """Return the digest the transfer recorded beside the audio at ``key``."""
    return cast(
        "dict[str, Any]", json.loads(s3.get_object(Bucket=bucket, Key=key + ".digest.json")["Body"].read())
    )


@pytest.mark.parametrize("etag_style", ["md5", "multipart", "none"])
def test_the_sha256_of_the_audio_is_recorded_beside_it_whatever_the_source_etag(
    emu: Emulator, s3_bucket: str, s3: Any, etag_style: str
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(etag_style=etag_style))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    audio = emu.redacted_audio(tid)
    recorded = recorded_digest(s3, s3_bucket, "a.wav")
    assert recorded["transcript_id"] == tid
    assert recorded["size"] == len(audio)
    assert recorded["sha256"] == hashlib.sha256(audio).hexdigest()
    assert recorded.get("source_md5") == (hashlib.md5(audio).hexdigest() if etag_style == "md5" else None)
    head = s3.head_object(Bucket=s3_bucket, Key="a.wav.digest.json")
    assert head["Metadata"]["assemblyai-transcript-id"] == tid
    assert head["Metadata"]["assemblyai-record-role"] == "digest"  # never taken for the audio


def test_a_rerun_records_the_digest_an_attempt_killed_after_the_audio_landed_did_not(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(etag_style="multipart"))
    killed = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")

    def die(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key", "").endswith(".digest.json"):
            raise KeyboardInterrupt  # the worker stops between the two writes

    killed.s3_hook.get_conn().meta.events.register("before-parameter-build.s3.PutObject", die)
    with pytest.raises(KeyboardInterrupt):
        run(killed)
    assert object_exists(s3, s3_bucket, "a.wav")
    assert not object_exists(s3, s3_bucket, "a.wav.digest.json")
    fetched = len(downloads(emu))

    assert run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")) == f"s3://{s3_bucket}/a.wav"

    assert len(downloads(emu)) == fetched  # read back from S3, not downloaded again
    recorded = recorded_digest(s3, s3_bucket, "a.wav")
    assert recorded["sha256"] == hashlib.sha256(emu.redacted_audio(tid)).hexdigest()
    assert (recorded["transcript_id"], recorded["size"]) == (tid, len(emu.redacted_audio(tid)))


def test_a_digest_file_that_records_other_bytes_fails_and_stays_untouched(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(etag_style="multipart"))
    foreign = b'{"schema": "airflow-assemblyai/audio-digest/1", "sha256": "' + b"0" * 64 + b'"}'
    s3.put_object(Bucket=s3_bucket, Key="a.wav.digest.json", Body=foreign)

    with pytest.raises(AssemblyAIFinalError, match="replace=True") as caught:
        run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert "a.wav.digest.json" in str(caught.value)
    assert s3.get_object(Bucket=s3_bucket, Key="a.wav.digest.json")["Body"].read() == foreign
    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", replace=True))
    assert (
        recorded_digest(s3, s3_bucket, "a.wav")["sha256"]
        == hashlib.sha256(emu.redacted_audio(tid)).hexdigest()
    )


@pytest.mark.parametrize(
    ("metadata", "named"),
    [
        ({}, "an object this provider did not write"),
        ({"assemblyai-transcript-id": "another"}, "transcript another"),
    ],
)
def test_another_object_at_the_key_fails_and_stays_untouched(
    emu: Emulator, s3_bucket: str, s3: Any, metadata: dict[str, str], named: str
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="a.wav", Body=b"someone else's", Metadata=metadata)
    tid = emu.add_transcript(params=WAV)

    with pytest.raises(AssemblyAIFinalError, match="replace=True") as caught:
        run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert named in str(caught.value)
    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == b"someone else's"
    assert downloads(emu) == []


def test_replace_true_overwrites(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    s3.put_object(Bucket=s3_bucket, Key="a.wav", Body=b"old")
    tid = emu.add_transcript(params=WAV)

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", replace=True))

    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)


# -- S3 options --------------------------------------------------------------------------------------


def test_sse_s3_storage_class_acl_and_tags_reach_the_object(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=10 * MiB))

    run(
        transfer(
            transcript_id=tid,
            s3_bucket=s3_bucket,
            s3_key="a.wav",
            server_side_encryption="AES256",
            storage_class="STANDARD_IA",
            acl_policy="bucket-owner-full-control",
            tags={"team": "calls", "pii": "redacted"},
        )
    )

    head = s3.head_object(Bucket=s3_bucket, Key="a.wav")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["StorageClass"] == "STANDARD_IA"
    tags = s3.get_object_tagging(Bucket=s3_bucket, Key="a.wav")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "calls", "pii": "redacted"}


def test_sse_kms_with_a_key_id(emu: Emulator, s3_bucket: str, s3: Any, moto_server: str) -> None:
    kms = boto3.client("kms", endpoint_url=moto_server, region_name="us-east-1")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    tid = emu.add_transcript(params=WAV)

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", sse_kms_key_id=key_id))

    head = s3.head_object(Bucket=s3_bucket, Key="a.wav")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert key_id in head["SSEKMSKeyId"]


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"transcript_id": "", "s3_bucket": "b-1", "s3_key": "k"}, "transcript_id"),
        ({"transcript_id": "  ", "s3_bucket": "b-1", "s3_key": "k"}, "transcript_id"),
        ({"transcript_id": "x/../other", "s3_bucket": "b-1", "s3_key": "k"}, "transcript_id"),
        ({"transcript_id": "t", "s3_bucket": None, "s3_key": "k"}, "s3_bucket"),
        ({"transcript_id": "t", "s3_bucket": "b-1", "s3_key": ""}, "s3_key"),
        ({"transcript_id": "t", "s3_bucket": "b-1", "s3_key": "s3://b-2/k"}, "s3_bucket"),
        ({"transcript_id": "t", "s3_key": "s3://b-1/"}, "s3_key"),
    ],
)
def test_bad_input_fails_before_any_request(emu: Emulator, kwargs: dict[str, Any], field: str) -> None:
    operator = transfer(**kwargs)
    calls = record_s3_calls(operator)

    with pytest.raises(AssemblyAIInvalidInputError, match=field):
        run(operator)

    assert emu.requests == []
    assert calls == []


def test_sse_kms_key_with_sse_s3_is_refused_at_construction() -> None:
    with pytest.raises(AssemblyAIInvalidInputError, match="sse_kms_key_id"):
        transfer(
            transcript_id="t",
            s3_bucket="b-1",
            s3_key="k",
            server_side_encryption="AES256",
            sse_kms_key_id="k",
        )


# -- lineage ------------------------------------------------------------------------------------------


def test_lineage_names_the_transcript_and_the_object_without_any_url(emu: Emulator, s3_bucket: str) -> None:
    tid = emu.add_transcript(params=WAV)
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")
    run(operator)

    lineage = operator.get_openlineage_facets_on_complete(None)

    [source], [target] = lineage.inputs, lineage.outputs
    assert (source.namespace, source.name) == (emu.base_url, f"v2/transcript/{tid}")
    assert (target.namespace, target.name) == (f"s3://{s3_bucket}", "a.wav")
    signature = downloads(emu)[0].query["Signature"]
    assert signature not in repr(lineage)
    assert "/_files/" not in repr(lineage)


def test_lineage_never_carries_credentials_written_into_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_assemblyai.testing.loopback import assemblyai_connection_env

    env = assemblyai_connection_env(
        api_key="k", base_url="https://proxy-user:proxy-secret@api.example.test:8443", conn_id="aai_creds"
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    operator = transfer(transcript_id="t-1", s3_bucket="b-1", s3_key="a.wav", assemblyai_conn_id="aai_creds")

    [source] = operator.get_openlineage_facets_on_complete(None).inputs

    assert source.namespace == "https://api.example.test:8443"
    assert "proxy-secret" not in repr(source)


# -- in a real DAG run -----------------------------------------------------------------------------------


def test_dag_run_returns_only_the_uri_and_logs_no_secret(
    emu: Emulator,
    s3_bucket: str,
    s3: Any,
    airflow_db: Path,
    dag_runner: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.sdk import DAG, AssetAlias
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    tid = emu.add_transcript(params=WAV, faults=Faults(cut_download_after=20_000, expired_urls=1))
    with DAG("redacted_audio_to_s3_secrets", schedule=None) as dag:
        transfer(
            transcript_id=tid,
            s3_bucket=s3_bucket,
            s3_key="calls/{{ dag_run.run_id | replace(':', '_') }}.wav",
            outlets=[AssetAlias("redacted-audio")],
        )

    dag_run = dag_runner(dag)

    assert dag_run.state == DagRunState.SUCCESS
    key = f"calls/{dag_run.run_id.replace(':', '_')}.wav"
    uri = f"s3://{s3_bucket}/{key}"
    assert dag_run.get_task_instance("copy_redacted_audio").xcom_pull(task_ids="copy_redacted_audio") == uri
    assert s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == emu.redacted_audio(tid)

    logs = caplog.text + "".join(capfd.readouterr())
    assert "Copied" in logs
    assert "resuming at byte" in logs
    signatures = {r.query["Signature"] for r in downloads(emu)}
    assert len(signatures) == 2
    for secret in (emu.api_key, *signatures):
        assert secret not in logs
    assert "/_files/" not in logs

    with create_session() as session:
        asset = session.query(AssetModel).filter(AssetModel.uri == uri).one()
        assert session.query(AssetEvent).filter(AssetEvent.asset_id == asset.id).count() == 1


# -- only the intact audio is ever completed ----------------------------------------------------------------


@pytest.mark.parametrize("body", ["html", "empty"])
def test_an_html_page_or_an_empty_body_is_never_archived(
    emu: Emulator, s3_bucket: str, s3: Any, body: str
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(substitute_body=body))
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")
    calls = record_s3_calls(operator)

    with pytest.raises(RedactedAudioIntegrityError, match="HTML or XML page" if body == "html" else "empty"):
        run(operator)

    assert not set(calls) & {"PutObject", "CreateMultipartUpload"}
    assert not object_exists(s3, s3_bucket, "a.wav")


def test_an_unverifiable_body_is_refused_and_a_task_retry_can_archive_it(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    # No length of any kind and no MD5 ETag: a cut could not be told from the end.
    tid = emu.add_transcript(params=WAV, faults=Faults(unknown_length=True, etag_style="multipart"))

    with pytest.raises(RedactedAudioIntegrityError, match="neither a length") as caught:
        run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert not isinstance(caught.value, AirflowFailException)
    assert not object_exists(s3, s3_bucket, "a.wav")
    emu.set_faults(tid, Faults())  # the next attempt meets a well-behaved host
    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))
    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)


def test_a_close_delimited_body_cut_short_is_never_completed(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    faults = Faults(redacted_size_bytes=30 * MiB, unknown_length=True, short_body_after=20 * MiB)
    tid = emu.add_transcript(params=WAV, faults=faults)
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", **ONE_PART_IN_MEMORY)
    calls = record_s3_calls(operator)

    with pytest.raises(RedactedAudioIntegrityError, match="MD5"):
        run(operator)

    assert_aborted_mid_upload(calls, s3, s3_bucket, "a.wav")


def test_a_wav_truncated_at_the_source_is_refused_by_its_header(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    # The host serves a consistent length and a multipart ETag (no MD5): only the RIFF sizes tell.
    tid = emu.add_transcript(params=WAV, faults=Faults(etag_style="multipart"))
    served = emu.redacted_audio_path(tid)
    served.write_bytes(served.read_bytes()[:-5000])

    with pytest.raises(RedactedAudioIntegrityError, match="truncated"):
        run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert not object_exists(s3, s3_bucket, "a.wav")


def test_an_object_archived_without_a_recorded_length_is_still_recognised(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    tid = emu.add_transcript(params=WAV)
    # As 0.1.0 wrote it when the file host announced no length.
    s3.put_object(
        Bucket=s3_bucket,
        Key="a.wav",
        Body=emu.redacted_audio(tid),
        Metadata={"assemblyai-transcript-id": tid, "assemblyai-source-length": ""},
    )
    emu.expire(tid)

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert [r for r in emu.requests if r.kind == "api"] == []


# -- expired credentials on the file host ----------------------------------------------------------------


@pytest.mark.parametrize("code", ["ExpiredToken", "TokenRefreshRequired", "RequestExpired"])
def test_a_400_expiry_on_a_resume_gets_a_fresh_url(emu: Emulator, s3_bucket: str, s3: Any, code: str) -> None:
    faults = Faults(redacted_size_bytes=10 * MiB, cut_download_after=3 * MiB, resume_errors=[code])
    tid = emu.add_transcript(params=WAV, faults=faults)

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    assert [r.status for r in downloads(emu)] == [206, 400, 206]
    assert downloads(emu)[2].headers["range"] == f"bytes={3 * MiB}-"
    assert redacted_audio_calls(emu) == 2


def test_a_403_that_persists_with_a_fresh_url_is_final(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    faults = Faults(download_errors=["SignatureDoesNotMatch", "SignatureDoesNotMatch"])
    tid = emu.add_transcript(params=WAV, faults=faults)

    with pytest.raises(AssemblyAIFinalError, match="SignatureDoesNotMatch even with a fresh URL"):
        run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert [r.status for r in downloads(emu)] == [403, 403]
    assert redacted_audio_calls(emu) == 2
    assert not object_exists(s3, s3_bucket, "a.wav")


# -- metadata in any case, keys taken literally ----------------------------------------------------------


def test_metadata_answered_in_another_case_is_still_recognised(emu: Emulator, s3_bucket: str) -> None:
    tid = emu.add_transcript(params=WAV)
    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))
    rerun = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")
    answer_metadata_in_title_case(rerun.s3_hook.get_conn())
    seen = len(emu.requests)

    run(rerun)

    assert len(emu.requests) == seen


def test_the_purge_recognises_the_archive_whatever_the_case_of_its_metadata(
    emu: Emulator, s3_bucket: str
) -> None:
    from airflow_assemblyai.operators.delete import AssemblyAIDeleteTranscriptOperator

    tid = emu.add_transcript(params=WAV)
    uri = run(transfer(transcript_id=tid, s3_key=f"s3://{s3_bucket}/calls/{tid}#1.wav"))
    purge = AssemblyAIDeleteTranscriptOperator(task_id="purge", transcript_id=tid, archive_uri=uri)
    answer_metadata_in_title_case(purge.s3_hook.get_conn())

    purge.execute(cast("Context", {}))

    assert emu.deleted(tid)


def answer_metadata_in_title_case(client: Any) -> None:
    """Make ``HeadObject`` metadata keys arrive as ``Assemblyai-Transcript-Id``, as MinIO answers them."""

    def title_case(parsed: dict[str, Any], **_: Any) -> None:
        if "Metadata" in parsed:
            parsed["Metadata"] = {k.title(): v for k, v in parsed["Metadata"].items()}

    client.meta.events.register("after-call.s3.HeadObject", title_case)


@pytest.mark.parametrize(
    ("s3_key", "key", "uri"),
    [
        ("calls/a#1.wav", "calls/a#1.wav", "calls/a%231.wav"),
        ("calls/a?v=2.wav", "calls/a?v=2.wav", "calls/a%3Fv=2.wav"),
        ("calls//a.wav", "calls//a.wav", "calls//a.wav"),
        ("/calls/a.wav", "/calls/a.wav", "/calls/a.wav"),
    ],
)
@pytest.mark.parametrize("spelling", ["s3-url", "bucket-and-key"])
def test_the_object_lands_at_exactly_the_key_given(
    emu: Emulator, s3_bucket: str, s3: Any, s3_key: str, key: str, uri: str, spelling: str
) -> None:
    tid = emu.add_transcript(params=WAV)
    where = (
        {"s3_key": f"s3://{s3_bucket}/{s3_key}"}
        if spelling == "s3-url"
        else {"s3_bucket": s3_bucket, "s3_key": s3_key}
    )

    returned = run(transfer(transcript_id=tid, **where))

    assert returned == f"s3://{s3_bucket}/{uri}"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]] == [key, f"{key}.digest.json"]


def test_the_asset_event_carries_the_encoded_uri(
    emu: Emulator, s3_bucket: str, s3: Any, dag_runner: Callable[..., Any]
) -> None:
    from airflow.models.asset import AssetModel
    from airflow.sdk import DAG, AssetAlias
    from airflow.utils.session import create_session

    tid = emu.add_transcript(params=WAV)
    with DAG("redacted_audio_to_s3_odd_key", schedule=None) as dag:
        transfer(
            transcript_id=tid,
            s3_key=f"s3://{s3_bucket}/calls/a#1?v=2.wav",
            outlets=[AssetAlias("redacted-audio-odd-keys")],
        )

    dag_run = dag_runner(dag)

    assert dag_run.state == "success"
    assert s3.head_object(Bucket=s3_bucket, Key="calls/a#1?v=2.wav")
    with create_session() as session:
        uris = {asset.uri for asset in session.query(AssetModel).filter(AssetModel.uri.contains(s3_bucket))}
    assert uris == {f"s3://{s3_bucket}/calls/a%231%3Fv=2.wav"}


# -- the 24-hour window ----------------------------------------------------------------------------------


def test_a_file_near_the_end_of_its_24_hours_warns_with_the_time_left(
    emu: Emulator, s3_bucket: str, capfd: pytest.CaptureFixture[str]
) -> None:
    fresh = emu.add_transcript(params=WAV)
    old = emu.add_transcript(params=WAV, faults=Faults(file_age_seconds=23 * 3600))

    run(transfer(transcript_id=fresh, s3_bucket=s3_bucket, s3_key="fresh.wav"))
    assert "are left to archive it" not in "".join(capfd.readouterr())
    run(transfer(transcript_id=old, s3_bucket=s3_bucket, s3_key="old.wav"))

    logs = "".join(capfd.readouterr())
    assert re.search(rf"transcript {old} was rendered at .*about 0h[45]\dm are left to archive it", logs)


@pytest.mark.parametrize("where", ["api", "file-host"])
def test_once_the_file_is_gone_the_error_says_so(emu: Emulator, s3_bucket: str, where: str) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(download_errors=["NoSuchKey"]))
    if where == "api":
        emu.expire(tid)

    with pytest.raises(RedactedAudioExpiredError, match="24 hours") as caught:
        run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert isinstance(caught.value, AirflowFailException)


# -- replace=False holds under concurrency --------------------------------------------------------------


def is_audio_request(url: str) -> bool:
    """Return True when an S3 request's URL is not the one of the digest recorded beside the audio."""
    return not url.partition("?")[0].endswith(".digest.json")


def record_s3_headers(
    operator: AssemblyAIRedactedAudioToObjectStorageOperator,
) -> list[tuple[str, dict[str, str]]]:
    """Record ``(operation, request headers)`` of every S3 request the operator's client sends about
    the audio (the digest recorded beside it is left aside)."""
    sent: list[tuple[str, dict[str, str]]] = []

    def record(request: Any, event_name: str, **_: Any) -> None:
        if not is_audio_request(request.url):
            return
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        sent.append((event_name.rsplit(".", 1)[-1], headers))

    operator.s3_hook.get_conn().meta.events.register("before-send.s3", record)
    return sent


def script_s3_answer(
    operator: AssemblyAIRedactedAudioToObjectStorageOperator,
    operation: str,
    status: int,
    code: str,
    *,
    times: int = 1,
    when: Callable[[dict[str, Any]], bool] = lambda _: True,
) -> None:
    """Answer the next ``times`` matching ``operation`` requests with an S3 error moto cannot produce."""
    from botocore.awsrequest import AWSResponse

    left = [times]

    def answer(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        if left[0] <= 0 or not when(params):
            return None
        left[0] -= 1
        error = {
            "Error": {"Code": code, "Message": "Scripted."},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return AWSResponse("https://s3.invalid", status, {}, None), error

    operator.s3_hook.get_conn().meta.events.register(f"before-call.s3.{operation}", answer)


@pytest.mark.parametrize("replace", [False, True])
@pytest.mark.parametrize("size", [20 * MiB, None], ids=["multipart", "single-put"])
def test_if_none_match_goes_on_the_completing_write_unless_replace(
    emu: Emulator, s3_bucket: str, replace: bool, size: int | None
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=size))
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", replace=replace)
    sent = record_s3_headers(operator)

    run(operator)

    conditional = {op: headers.get("if-none-match") for op, headers in sent if "if-none-match" in headers}
    completing = "CompleteMultipartUpload" if size else "PutObject"
    assert conditional == ({} if replace else {completing: "*"})


def race(
    emu: Emulator, s3_bucket: str, first: str, second: str, *, multipart: bool
) -> tuple[list[Any], list[list[str]], list[int]]:
    """Run two transfers to one key; both check the key before either completes; ``first`` completes first.

    Return each one's outcome (the URI or the exception), its S3 calls, and the status S3 answered
    to its completing request.
    """
    operators = [transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav") for tid in (first, second)]
    opening = "CreateMultipartUpload" if multipart else "PutObject"
    completing = "CompleteMultipartUpload" if multipart else "PutObject"
    checked, ready = threading.Barrier(2, timeout=60), threading.Barrier(2, timeout=60)
    first_completed = threading.Event()
    calls = [record_s3_calls(operator) for operator in operators]
    statuses: list[int] = [0, 0]

    def opened(**_: Any) -> None:
        checked.wait()  # both checked the key and swept it before either opens an upload

    for index, operator in enumerate(operators):

        def hold(params: dict[str, Any], index: int = index, **_: Any) -> None:
            if not is_audio_request(params.get("url", "")):
                return  # the digest recorded after the audio
            ready.wait()  # both hold their whole audio before either completes
            if index == 1:
                first_completed.wait(60)

        def completed(http_response: Any, index: int = index, **_: Any) -> None:
            if not is_audio_request(http_response.url):
                return
            statuses[index] = http_response.status_code
            if index == 0:
                first_completed.set()

        events = operator.s3_hook.get_conn().meta.events
        if multipart:
            events.register(f"before-call.s3.{opening}", opened)
        events.register(f"before-call.s3.{completing}", hold)
        events.register(f"after-call.s3.{completing}", completed)

    outcomes: list[Any] = [None, None]

    def go(index: int) -> None:
        try:
            outcomes[index] = run(operators[index])
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return outcomes, calls, statuses


@pytest.mark.parametrize("multipart", [True, False], ids=["multipart", "single-put"])
def test_two_writers_to_one_key_exactly_one_completes(
    emu: Emulator, s3_bucket: str, s3: Any, multipart: bool
) -> None:
    faults = Faults(redacted_size_bytes=20 * MiB if multipart else None)
    winner = emu.add_transcript(params=WAV, faults=faults)
    loser = emu.add_transcript(params=WAV, faults=dataclasses.replace(faults))

    outcomes, calls, statuses = race(emu, s3_bucket, winner, loser, multipart=multipart)

    assert outcomes[0] == f"s3://{s3_bucket}/a.wav"
    assert isinstance(outcomes[1], AssemblyAIFinalError)
    assert f"already exists and holds the audio of transcript {winner}" in str(outcomes[1])
    assert statuses == [200, 412]
    opening = "CreateMultipartUpload" if multipart else "PutObject"
    assert all(c.index("HeadObject") < c.index(opening) for c in calls)  # both checked the key first
    stored = s3.get_object(Bucket=s3_bucket, Key="a.wav")
    assert stored["Body"].read() == emu.redacted_audio(winner)
    assert stored["Metadata"]["assemblyai-transcript-id"] == winner
    assert uploads_left(s3, s3_bucket) == []


def test_two_writers_of_the_same_transcript_both_succeed(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=20 * MiB))

    outcomes, _, statuses = race(emu, s3_bucket, tid, tid, multipart=True)

    assert outcomes == [f"s3://{s3_bucket}/a.wav"] * 2  # the one that met 412 found its own audio there
    assert statuses == [200, 412]
    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    assert uploads_left(s3, s3_bucket) == []


def test_a_409_conditional_conflict_is_retried(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=20 * MiB))
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")
    script_s3_answer(operator, "CompleteMultipartUpload", 409, "ConditionalRequestConflict")
    answered: list[int] = []
    operator.s3_hook.get_conn().meta.events.register(
        "after-call.s3.CompleteMultipartUpload",
        lambda http_response, **_: answered.append(http_response.status_code),
    )

    run(operator)

    assert answered == [409, 200]
    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    assert uploads_left(s3, s3_bucket) == []


@pytest.mark.parametrize("multipart", [True, False], ids=["multipart", "single-put"])
def test_a_store_without_conditional_writes_gets_the_checked_write_and_a_warning(
    emu: Emulator, s3_bucket: str, s3: Any, capfd: pytest.CaptureFixture[str], multipart: bool
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=20 * MiB if multipart else None))
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")
    completing = "CompleteMultipartUpload" if multipart else "PutObject"
    # A store that refuses the header wherever it appears, as some S3-compatible stores do.
    script_s3_answer(
        operator, completing, 501, "NotImplemented", times=99, when=lambda p: "If-None-Match" in p["headers"]
    )
    sent = record_s3_headers(operator)

    run(operator)

    assert [("if-none-match" in h) for op, h in sent if op == completing] == [False]
    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    assert uploads_left(s3, s3_bucket) == []
    assert redacted_audio_calls(emu) == 2  # the refused attempt, then the unconditional one
    assert "does not implement conditional writes" in "".join(capfd.readouterr())


# -- cancellation is prompt --------------------------------------------------------------------------------


SLOW = {"redacted_size_bytes": 20 * MiB, "slow_body_after": 9 * MiB, "slow_body_delay": 3600.0}


def test_on_kill_during_the_copy_aborts_the_upload_and_stops_the_download(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(**SLOW))
    # A read timeout of an hour: only on_kill can end the stalled read.
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", download_timeout=3600)
    calls = record_s3_calls(operator)
    part_uploaded = threading.Event()
    operator.s3_hook.get_conn().meta.events.register(
        "after-call.s3.UploadPart", lambda **_: part_uploaded.set()
    )

    def kill_once_a_part_is_in() -> None:  # as Airflow's SIGTERM handler does, while execute runs
        if part_uploaded.wait(120):
            operator.on_kill()

    killer = threading.Thread(target=kill_once_a_part_is_in)
    killer.start()
    with pytest.raises(AssemblyAITransientError, match="stopped"):
        run(operator)
    killer.join(10)

    assert "AbortMultipartUpload" in calls
    assert "CompleteMultipartUpload" not in calls
    assert emu.served_bytes(tid) < 20 * MiB
    assert not object_exists(s3, s3_bucket, "a.wav")
    assert uploads_left(s3, s3_bucket) == []


def test_an_execution_timeout_shorter_than_a_slow_download_leaves_nothing_behind(
    emu: Emulator,
    s3_bucket: str,
    s3: Any,
    dag_runner: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow.sdk import DAG

    tid = emu.add_transcript(params=WAV, faults=Faults(**SLOW))
    with DAG("redacted_audio_to_s3_timeout", schedule=None) as dag:
        transfer(
            transcript_id=tid,
            s3_bucket=s3_bucket,
            s3_key="a.wav",
            download_timeout=3600,
            # Long enough for the first part to be uploaded even on a loaded machine; the body stalls
            # for an hour after 9 MiB, so the timeout always strikes mid-upload.
            execution_timeout=timedelta(seconds=20),
        )

    dag_run = dag_runner(dag)

    assert dag_run.state == "failed"
    logs = caplog.text + "".join(capfd.readouterr())
    assert "Stopping the transfer: closing the download and aborting the upload." in logs
    # The body stalled after 9 MiB: the first 8 MiB part had been read, so a multipart upload was
    # open when the timeout struck (the abort may be logged by on_kill or done by s3transfer's own
    # clean-up first, whichever thread gets there first); none is left and no object completed.
    assert 9 * MiB <= emu.served_bytes(tid) < 20 * MiB
    assert not object_exists(s3, s3_bucket, "a.wav")
    assert uploads_left(s3, s3_bucket) == []


def test_a_redirect_followed_on_the_download_is_masked_too(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    from tests.integration.hooks.test_url_masking import task_log_line

    tid = emu.add_transcript(params=WAV, faults=Faults(redirect_downloads=1))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    hop, landed = downloads(emu)
    assert (hop.status, landed.status) == (307, 206)
    secret = landed.query["Signature"]  # minted by the redirect: the hook never saw this URL
    assert secret != hop.query["Signature"]
    line = task_log_line(
        f"GET ...&Signature={secret}&x-amz-security-token={landed.query['x-amz-security-token']}"
    )
    assert secret not in line
    assert landed.query["x-amz-security-token"] not in line
