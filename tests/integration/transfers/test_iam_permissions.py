"""The README's IAM policy, proven where moto can enforce it: a moto server of its own with IAM on.

moto checks each S3 request's action against the caller's IAM policies once authentication is on
(``INITIAL_NO_AUTH_ACTION_COUNT``, switched through ``/moto-api/reset-auth`` after the set-up). It
maps HEAD to ``s3:GetObject`` but answers a missing key 404 even without ``s3:ListBucket``, and it
does not check ``s3:PutObjectTagging``, ``s3:PutObjectAcl`` or KMS permissions: those rows of the
README rest on AWS's documentation alone. The server runs in its own process, since the setting is
process-wide and the session's moto server must stay open.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from airflow.sdk import Context

from airflow_assemblyai.exceptions import ArchiveDestinationError, AssemblyAIFinalError
from airflow_assemblyai.operators.delete import AssemblyAIDeleteTranscriptOperator
from airflow_assemblyai.operators.destination import AssemblyAICheckArchiveDestinationOperator
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
    AssemblyAIRedactedAudioToObjectStorageOperator,
)

MiB = 1024 * 1024
BUCKET = "archive"
WAV_NO_POLICY = {"redact_pii": True, "redact_pii_audio": True, "redact_pii_audio_quality": "wav"}
BUCKET_ACTIONS = ["s3:ListBucket", "s3:ListBucketMultipartUploads"]
OBJECT_ACTIONS = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]


def policy(bucket_actions: list[str], object_actions: list[str]) -> str:
    """Return the README's policy for ``calls/*`` in the bucket, with the actions given."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": bucket_actions, "Resource": f"arn:aws:s3:::{BUCKET}"},
                {"Effect": "Allow", "Action": object_actions, "Resource": f"arn:aws:s3:::{BUCKET}/calls/*"},
            ],
        }
    )


USERS = {
    "archiver": policy(BUCKET_ACTIONS, OBJECT_ACTIONS),
    "no-list-uploads": policy(["s3:ListBucket"], OBJECT_ACTIONS),
    "no-abort": policy(BUCKET_ACTIONS, ["s3:PutObject", "s3:GetObject"]),
}


@pytest.fixture(scope="module")
def iam_moto() -> Iterator[tuple[str, dict[str, tuple[str, str]]]]:
    """Run a moto server with IAM enforced; yield its URL and each user's access key pair."""
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _announced_url(server)
        threading.Thread(target=server.stderr.read, daemon=True).start()  # type: ignore[union-attr]
        admin = {"endpoint_url": url, "region_name": "us-east-1"}
        iam = boto3.client("iam", **admin)
        keys = {}
        for user, document in USERS.items():
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName="archive", PolicyDocument=document)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
        boto3.client("s3", **admin).create_bucket(Bucket=BUCKET)
        httpx.post(f"{url}/moto-api/reset-auth", content=b"0").raise_for_status()  # enforce from now on
        yield url, keys
    finally:
        server.terminate()
        server.wait(30)


def _announced_url(server: subprocess.Popen[str]) -> str:
    for line in server.stderr:  # type: ignore[union-attr]
        match = re.search(r"Running on (http://127\.0\.0\.1:\d+)", line)
        if match:
            return match.group(1)
    raise RuntimeError("the moto server did not start")


@pytest.fixture
def as_user(iam_moto: tuple[str, dict[str, tuple[str, str]]], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Return a function that points the ``aws_iam`` connection at a user; it returns that user's client."""
    url, keys = iam_moto

    def use(user: str) -> Any:
        key_id, secret = keys[user]
        conn = {
            "conn_type": "aws",
            "login": key_id,
            "password": secret,
            "extra": {"endpoint_url": url, "region_name": "us-east-1"},
        }
        monkeypatch.setenv("AIRFLOW_CONN_AWS_IAM", json.dumps(conn))
        return boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )

    return use


def archive(tid: str, key: str) -> str:
    operator = AssemblyAIRedactedAudioToObjectStorageOperator(
        task_id="archive", transcript_id=tid, s3_key=f"s3://{BUCKET}/{key}", aws_conn_id="aws_iam"
    )
    return operator.execute(Context())  # type: ignore[typeddict-item]


def test_the_documented_policy_archives_sweeps_and_purges(
    assemblyai_connection: Emulator, as_user: Any
) -> None:
    emu = assemblyai_connection
    s3 = as_user("archiver")
    tid = emu.add_transcript(params=WAV_NO_POLICY, faults=Faults(redacted_size_bytes=20 * MiB))
    s3.create_multipart_upload(Bucket=BUCKET, Key="calls/full.wav")  # a stale upload to sweep

    uri = archive(tid, "calls/full.wav")
    AssemblyAIDeleteTranscriptOperator(
        task_id="purge", transcript_id=tid, archive_uri=uri, aws_conn_id="aws_iam"
    ).execute(Context())  # type: ignore[typeddict-item]

    assert s3.get_object(Bucket=BUCKET, Key="calls/full.wav")["Body"].read() == emu.redacted_audio(tid)
    assert s3.list_multipart_uploads(Bucket=BUCKET, Prefix="calls/full.wav").get("Uploads", []) == []
    assert emu.deleted(tid)


def test_a_key_outside_the_policy_is_refused_and_the_error_names_the_permission(
    assemblyai_connection: Emulator, as_user: Any
) -> None:
    as_user("archiver")
    tid = assemblyai_connection.add_transcript(params=WAV_NO_POLICY)

    with pytest.raises(AssemblyAIFinalError, match=r"HeadObject .* needs s3:GetObject"):
        archive(tid, "elsewhere/a.wav")


def test_without_list_bucket_multipart_uploads_the_sweep_is_refused_clearly(
    assemblyai_connection: Emulator, as_user: Any
) -> None:
    as_user("no-list-uploads")
    tid = assemblyai_connection.add_transcript(params=WAV_NO_POLICY)

    with pytest.raises(
        AssemblyAIFinalError, match=r"ListMultipartUploads .* needs s3:ListBucketMultipartUploads"
    ):
        archive(tid, "calls/no-list.wav")


def test_without_abort_multipart_upload_a_stale_upload_is_refused_clearly(
    assemblyai_connection: Emulator, as_user: Any
) -> None:
    as_user("archiver").create_multipart_upload(Bucket=BUCKET, Key="calls/no-abort.wav")
    as_user("no-abort")
    tid = assemblyai_connection.add_transcript(params=WAV_NO_POLICY)

    with pytest.raises(AssemblyAIFinalError, match=r"AbortMultipartUpload .* needs s3:AbortMultipartUpload"):
        archive(tid, "calls/no-abort.wav")


def check_destination(key: str) -> str:
    operator = AssemblyAICheckArchiveDestinationOperator(
        task_id="check", s3_key=f"s3://{BUCKET}/{key}", aws_conn_id="aws_iam"
    )
    return operator.execute(Context())  # type: ignore[typeddict-item]


def test_the_destination_check_passes_the_documented_policy_and_leaves_nothing(as_user: Any) -> None:
    s3 = as_user("archiver")

    assert check_destination("calls/") == f"s3://{BUCKET}/calls/"

    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="calls/.destination-check").get("KeyCount") == 0
    assert (
        s3.list_multipart_uploads(Bucket=BUCKET, Prefix="calls/.destination-check").get("Uploads", []) == []
    )


def test_the_destination_check_refuses_a_prefix_the_policy_does_not_cover(as_user: Any) -> None:
    as_user("archiver")

    with pytest.raises(ArchiveDestinationError, match=r"start an upload under .*needs s3:PutObject on the"):
        check_destination("elsewhere/")


def test_the_destination_check_refuses_without_abort_multipart_upload(as_user: Any) -> None:
    as_user("no-abort")

    with pytest.raises(ArchiveDestinationError, match=r"needs s3:AbortMultipartUpload on the key's prefix"):
        check_destination("calls/")
