"""The redacted-audio transfer against the AssemblyAI emulator and a moto S3 server, both on loopback."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from airflow_assemblyai.exceptions import (
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
from airflow_assemblyai.transfers.redacted_audio_to_s3 import AssemblyAIRedactedAudioToS3Operator

MiB = 1024 * 1024
REDACT = {"redact_pii": True, "redact_pii_audio": True, "redact_pii_policies": ["person_name"]}
WAV = {**REDACT, "redact_pii_audio_quality": "wav"}
FAST_RETRIES = {"max_attempts": 3, "retry_wait_initial": 0.01, "retry_wait_max": 0.05}


@pytest.fixture
def emu(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """Return the emulator with ``assemblyai_default`` pointing at it (fast retries)."""
    env = assemblyai_connection_env(api_key=emulator.api_key, base_url=emulator.base_url, **FAST_RETRIES)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return emulator


@pytest.fixture
def s3(moto_server: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")


def transfer(**kwargs: Any) -> AssemblyAIRedactedAudioToS3Operator:
    return AssemblyAIRedactedAudioToS3Operator(task_id="copy_redacted_audio", **kwargs)


def run(operator: AssemblyAIRedactedAudioToS3Operator) -> str:
    return operator.execute(cast("Context", {}))


def record_s3_calls(operator: AssemblyAIRedactedAudioToS3Operator) -> list[str]:
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


def test_content_type_follows_the_bytes_when_the_transcript_disagrees(
    emu: Emulator, s3_bucket: str, s3: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    # The transcript asks for mp3 (the default) but the file host serves a WAV.
    tid = emu.add_transcript(params=REDACT, faults=Faults(redacted_size_bytes=MiB))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.audio"))

    assert s3.head_object(Bucket=s3_bucket, Key="a.audio")["ContentType"] == "audio/wav"
    assert "asked for mp3 redacted audio but the file is wav" in "".join(capfd.readouterr())


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
    assert [r.status for r in served] == [200, 206, 206]
    assert [r.headers.get("range") for r in served] == [None, f"bytes={5 * MiB}-", f"bytes={10 * MiB}-"]
    assert redacted_audio_calls(emu) == 1  # a cut alone does not need a new URL


def test_expired_url_is_replaced_by_a_fresh_one(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=10 * MiB, expired_urls=1))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    assert [r.status for r in downloads(emu)] == [403, 200]
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

    assert [r.status for r in downloads(emu)] == [503, 500, 200]
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


def _expired(emu: Emulator) -> str:
    tid = emu.add_transcript(params=WAV)
    emu.expire(tid)
    return tid


def test_mismatching_md5_aborts_the_upload_mid_way(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=20 * MiB))
    served = emu.redacted_audio_path(tid)  # rendered now, its ETag fixed
    with served.open("r+b") as handle:  # corrupt one byte in the last part, length unchanged
        handle.seek(18 * MiB)
        byte = handle.read(1)
        handle.seek(18 * MiB)
        handle.write(bytes([byte[0] ^ 0xFF]))
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")
    calls = record_s3_calls(operator)

    with pytest.raises(RedactedAudioIntegrityError, match="MD5"):
        run(operator)

    assert "UploadPart" in calls
    assert "AbortMultipartUpload" in calls
    assert "CompleteMultipartUpload" not in calls
    assert not object_exists(s3, s3_bucket, "a.wav")
    assert uploads_left(s3, s3_bucket) == []


def test_cut_that_exhausts_the_resume_budget_aborts_the_upload(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    faults = Faults(redacted_size_bytes=20 * MiB, cut_download_after=6 * MiB, cut_downloads=10)
    tid = emu.add_transcript(params=WAV, faults=faults)
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", max_download_attempts=2)
    calls = record_s3_calls(operator)

    with pytest.raises(AssemblyAITransientError, match="within 2 attempts") as caught:
        run(operator)

    assert len(downloads(emu)) == 2
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


@pytest.mark.parametrize(
    ("metadata", "named"),
    [
        ({}, "an object this operator did not write"),
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
        ({"transcript_id": "t", "s3_bucket": None, "s3_key": "k"}, "s3_bucket"),
        ({"transcript_id": "t", "s3_bucket": "b-1", "s3_key": ""}, "s3_key"),
        ({"transcript_id": "t", "s3_bucket": "b-1", "s3_key": "s3://b-2/k"}, "s3_bucket"),
        ({"transcript_id": "t", "s3_key": "s3://b-1/"}, "s3_key"),
    ],
)
def test_bad_input_fails_before_any_request(emu: Emulator, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(AssemblyAIInvalidInputError, match=field):
        run(transfer(**kwargs))

    assert emu.requests == []


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
