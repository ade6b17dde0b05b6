"""Check, before anything is paid for, that an archive destination exists and can be written.

A transcription is paid when it is submitted; if the archive cannot be written, the transcript and
its PII then stay at AssemblyAI until someone notices. So the example DAGs check the destination
first, with the same connection the transfer will use, and leave nothing behind:

- **S3**: one ``ListObjectsV2`` of the key's prefix (the bucket exists and the connection may list
  it, as the archive's checks need), then a multipart upload is started on a probe key under the
  archive key's prefix and aborted at once. Starting one needs exactly what the transfer's upload
  needs (``s3:PutObject`` on the prefix, and the KMS key's ``kms:GenerateDataKey`` when SSE-KMS is
  asked for); aborting needs ``s3:AbortMultipartUpload``, which the transfer also needs. No object
  is ever created, so no ``s3:DeleteObject`` is asked for.
- **Any other store** (``gs://``, ``abfs://``, ``file://``...): the nearest existing ancestor of the
  destination is found (the bucket or container at the least); for a local path a temporary file
  is created in it and removed at once. Remote stores are not written to: their write permission
  is found only by the archive task.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_assemblyai.archive.s3_errors import s3_error_code
from airflow_assemblyai.exceptions import ArchiveDestinationError

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

#: The probe key's suffix: under the archive key's own prefix, so the same IAM resource applies.
PROBE_SUFFIX = ".destination-check"
_LOCAL = ("file", "local")


@dataclass(frozen=True)
class DestinationCheck:
    """What was checked, for the task log and the XCom (never a secret)."""

    uri: str
    checked: str


def check_s3_destination(
    client: Any, bucket: str, key: str, *, upload_args: dict[str, Any] | None = None
) -> DestinationCheck:
    """Check that ``bucket`` exists and that a multipart upload may start (and abort) beside ``key``.

    :param client: a boto3 S3 client of the connection the transfer uses.
    :param upload_args: the transfer's S3 upload options (SSE, KMS key...), so the probe asks for
        the same permissions the upload will.
    :raises ArchiveDestinationError: naming the bucket or key, the permission missing and the fix.
    """
    from botocore.exceptions import ClientError

    where = f"s3://{bucket}/{key}"
    try:
        client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    except ClientError as exc:
        code, status = s3_error_code(exc)
        if status == 404 or code in ("NoSuchBucket", "404", "NotFound"):
            raise ArchiveDestinationError(
                f"S3 bucket {bucket!r} does not exist: create it, or fix s3_bucket/s3_key (or destination) "
                "before anything is submitted."
            ) from None
        raise ArchiveDestinationError(
            f"S3 refused to list {bucket!r} (HTTP {status} {code}): the AWS connection needs "
            "s3:ListBucket on the bucket. See the provider's docs/iam.md#iam-permissions."
        ) from None
    probe = f"{key}{PROBE_SUFFIX}-{uuid.uuid4().hex[:12]}"
    try:
        started = client.create_multipart_upload(Bucket=bucket, Key=probe, **(upload_args or {}))
        upload_id = started["UploadId"]
    except ClientError as exc:
        code, status = s3_error_code(exc)
        raise ArchiveDestinationError(
            f"S3 refused to start an upload under {where} (HTTP {status} {code}): the AWS connection needs "
            "s3:PutObject on the key's prefix (and kms:GenerateDataKey on the KMS key with SSE-KMS). "
            "See the provider's docs/iam.md#iam-permissions."
        ) from None
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=probe, UploadId=upload_id)
    except ClientError as exc:
        code, status = s3_error_code(exc)
        raise ArchiveDestinationError(
            f"S3 refused to abort an upload under {where} (HTTP {status} {code}): the AWS connection needs "
            f"s3:AbortMultipartUpload on the key's prefix. The probe upload of key {probe!r} stays open "
            "until the bucket's AbortIncompleteMultipartUpload lifecycle rule removes it."
        ) from None
    return DestinationCheck(uri=where, checked="bucket exists; an upload may start and abort under the key")


def check_path_destination(path: ObjectStoragePath) -> DestinationCheck:
    """Check that the nearest existing ancestor of ``path`` is reachable (and writable, locally).

    :raises ArchiveDestinationError: naming the destination and what to fix.
    """
    uri = f"{path.protocol}://{path.path}"
    if path.protocol in _LOCAL:
        return _check_local(uri, str(path.path))
    ancestor = path.parent
    try:
        while not ancestor.exists():
            if ancestor.parent == ancestor or not str(ancestor.path).strip("/"):
                break
            ancestor = ancestor.parent
        found = ancestor.exists()
    except Exception as exc:  # fsspec backends raise their own types for refusals
        raise ArchiveDestinationError(
            f"The store of {uri} could not be reached ({type(exc).__name__}): check the destination and "
            "its connection before anything is submitted."
        ) from None
    if not found:
        raise ArchiveDestinationError(
            f"No part of {uri} exists (not even its bucket or container): create it, or fix destination."
        )
    return DestinationCheck(uri=uri, checked=f"{ancestor.protocol}://{ancestor.path} is reachable")


def _check_local(uri: str, file_path: str) -> DestinationCheck:
    """Check that the nearest existing ancestor directory of ``file_path`` is a writable directory."""
    ancestor = os.path.dirname(os.path.abspath(file_path))
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise ArchiveDestinationError(
            f"{ancestor} is a file, so {uri} cannot be written under it: fix destination."
        )
    try:  # a real write, not os.access: root passes every mode check, yet not every file system
        with tempfile.TemporaryFile(dir=ancestor, prefix=PROBE_SUFFIX):
            pass
    except OSError as exc:
        raise ArchiveDestinationError(
            f"The directory {ancestor} cannot be written by the worker ({exc.strerror}), so {uri} cannot be "
            "archived: fix its permissions or the destination."
        ) from None
    return DestinationCheck(uri=uri, checked=f"{ancestor} is a writable directory")
