"""The archive destination check: a missing bucket or unwritable place fails; nothing is left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import Context

from airflow_assemblyai.exceptions import ArchiveDestinationError
from airflow_assemblyai.operators.destination import AssemblyAICheckArchiveDestinationOperator
from tests.support import s3_client


def check(**kwargs: object) -> str:
    return AssemblyAICheckArchiveDestinationOperator(task_id="check", **kwargs).execute(Context())  # type: ignore[arg-type]


def test_a_writable_bucket_passes_and_keeps_no_object_and_no_open_upload(
    s3_bucket: str, local_s3_endpoint: str
) -> None:
    assert check(s3_bucket=s3_bucket, s3_key="calls/") == f"s3://{s3_bucket}/calls/"
    assert check(s3_key=f"s3://{s3_bucket}/calls/x.wav") == f"s3://{s3_bucket}/calls/x.wav"
    assert check(s3_bucket=s3_bucket, s3_key="") == f"s3://{s3_bucket}/"

    s3 = s3_client(local_s3_endpoint)
    assert s3.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


def test_a_missing_bucket_fails_naming_it(s3_bucket: str) -> None:
    missing = r"S3 bucket 'no-such-bucket-x1' does not exist: create it"
    with pytest.raises(ArchiveDestinationError, match=missing):
        check(s3_bucket="no-such-bucket-x1", s3_key="calls/")
    with pytest.raises(ArchiveDestinationError, match=r"'no-such-bucket-x1' does not exist"):
        check(destination="s3://no-such-bucket-x1/calls/x.wav")


def test_a_local_destination_under_a_writable_directory_passes(tmp_path: Path) -> None:
    target = tmp_path / "not" / "yet" / "there" / "x.wav"
    assert check(destination=f"file://{target}") == f"file://{target}"
    assert not (tmp_path / "not").exists()  # nothing was created


def test_a_local_destination_under_a_file_fails(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a directory")
    with pytest.raises(ArchiveDestinationError, match=r"blocker is a file"):
        check(destination=f"file://{tmp_path}/blocker/calls/x.wav")


def test_a_local_destination_on_a_file_system_that_refuses_writes_fails() -> None:
    # /proc refuses new files even to root, who passes every permission-bit check.
    with pytest.raises(ArchiveDestinationError, match=r"The directory /proc cannot be written by the worker"):
        check(destination="file:///proc/assemblyai-archive/calls/x.wav")


def test_both_ways_of_naming_the_destination_are_refused(s3_bucket: str) -> None:
    with pytest.raises(Exception, match=r"destination and s3_bucket/s3_key are both set"):
        check(s3_bucket=s3_bucket, destination="file:///tmp/x.wav")


def test_the_probe_upload_asks_for_the_transfers_encryption(
    s3_bucket: str, local_s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_assemblyai.operators import destination

    asked: list[dict[str, Any]] = []

    def spy(*args: Any, upload_args: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        asked.append(dict(upload_args or {}))
        return real(*args, upload_args=upload_args, **kwargs)

    real = destination.check_s3_destination
    monkeypatch.setattr(destination, "check_s3_destination", spy)
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/archive"
    check(s3_bucket=s3_bucket, s3_key="calls/", sse_kms_key_id=key_arn)
    check(s3_bucket=s3_bucket, s3_key="calls/", server_side_encryption="AES256")
    check(s3_bucket=s3_bucket, s3_key="calls/")

    assert asked == [
        {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn},
        {"ServerSideEncryption": "AES256"},
        {},
    ]
    assert s3_client(local_s3_endpoint).list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


def test_a_wrong_encryption_is_refused_when_the_task_is_built_naming_the_field() -> None:
    with pytest.raises(
        Exception, match=r"server_side_encryption must be 'AES256', 'aws:kms' or 'aws:kms:dsse'"
    ):
        AssemblyAICheckArchiveDestinationOperator(
            task_id="check", s3_bucket="b", server_side_encryption="KMS"
        )
