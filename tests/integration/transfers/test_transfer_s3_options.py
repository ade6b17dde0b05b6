"""S3 options (encryption, class, ACL, tags) reach the object; bad input fails before any request."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from airflow_assemblyai.exceptions import (
    AssemblyAIInvalidInputError,
)
from airflow_assemblyai.testing.emulator import Emulator, Faults
from tests.integration.transfers.transfer_support import (
    MiB,
    record_s3_calls,
    run,
    transfer,
)
from tests.support import WAV

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


def test_sse_kms_with_a_key_id(emu: Emulator, s3_bucket: str, s3: Any, local_s3_endpoint: str) -> None:
    kms = boto3.client("kms", endpoint_url=local_s3_endpoint, region_name="us-east-1")
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
