"""The S3 options value object and the one reading of a conditional write's refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from airflow_assemblyai.archive.metadata import lower_keys
from airflow_assemblyai.archive.s3_errors import ConditionalWrite, conditional_write_outcome
from airflow_assemblyai.archive.s3_options import S3Options
from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "CompleteMultipartUpload",
    )


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"server_side_encryption": "AES256", "sse_kms_key_id": "k"}, "sse_kms_key_id"),
        ({"server_side_encryption": "aws:none"}, "server_side_encryption"),
        ({"object_lock_mode": "FOREVER", "object_lock_retain_until": timedelta(days=1)}, "object_lock_mode"),
        ({"object_lock_mode": "GOVERNANCE"}, "object_lock_retain_until"),
        ({"object_lock_mode": "GOVERNANCE", "object_lock_retain_until": timedelta(0)}, "positive"),
    ],
)
def test_invalid_options_are_refused_naming_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(AssemblyAIInvalidInputError, match=field):
        S3Options.of(**options)


def test_a_kms_key_alone_means_sse_kms_and_asks_for_its_permissions() -> None:
    options = S3Options.of(sse_kms_key_id="key-1", tags={"team": "calls"}, acl_policy="private")

    args = options.extra_args({"RequestPayer": "requester"})

    assert args == {
        "RequestPayer": "requester",
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "key-1",
        "ACL": "private",
        "Tagging": "team=calls",
    }
    assert options.write_permissions() == (
        "s3:PutObject, s3:PutObjectTagging, s3:PutObjectAcl, kms:GenerateDataKey and kms:Decrypt on the KMS "
        "key on the key"
    )


def test_a_retention_given_as_a_timedelta_counts_from_each_write() -> None:
    options = S3Options.of(object_lock_mode="COMPLIANCE", object_lock_retain_until=timedelta(days=7))

    args = options.extra_args()

    assert args["ObjectLockMode"] == "COMPLIANCE"
    assert args["ObjectLockRetainUntilDate"].tzinfo is not None
    assert options.uses_object_lock


@pytest.mark.parametrize(
    ("code", "status", "outcome"),
    [
        ("PreconditionFailed", 412, ConditionalWrite.TAKEN),
        ("PreconditionFailed", 0, ConditionalWrite.TAKEN),
        ("NotImplemented", 501, ConditionalWrite.UNSUPPORTED),
        ("ConditionalRequestConflict", 409, ConditionalWrite.CONFLICT),
        ("NoSuchUpload", 404, ConditionalWrite.CONFLICT),
        ("AccessDenied", 403, None),
    ],
)
def test_a_conditional_write_refusal_is_read_one_way(
    code: str, status: int, outcome: ConditionalWrite
) -> None:
    assert conditional_write_outcome(client_error(code, status)) is outcome


def test_an_error_that_is_no_s3_answer_says_nothing_of_a_conditional_write() -> None:
    assert conditional_write_outcome(TimeoutError("read timed out")) is None


def test_user_metadata_keys_are_folded_to_lower_case_in_one_place() -> None:
    head = {"Metadata": {"Assemblyai-Transcript-Id": "t-1", "X": 2}}

    assert lower_keys(head) == {"assemblyai-transcript-id": "t-1", "x": "2"}
    assert lower_keys({}) == {}
