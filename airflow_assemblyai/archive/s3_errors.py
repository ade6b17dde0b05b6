"""What an S3 refusal means: its code and status, whether a conditional write lost, the fix to name."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from airflow_assemblyai.exceptions import AssemblyAIFinalError, AssemblyAIInvalidInputError

if TYPE_CHECKING:
    from botocore.exceptions import ClientError


class ConditionalWrite(enum.Enum):
    """What an S3 refusal of a conditional write (``If-None-Match: *``) means."""

    #: 412 ``PreconditionFailed``: another writer completed the key first; what it wrote decides.
    TAKEN = "taken"
    #: 501 ``NotImplemented``: the store has no conditional writes; write after a check, with a warning.
    UNSUPPORTED = "unsupported"
    #: ``ConditionalRequestConflict`` (409) or a vanished multipart upload: a concurrent write; try again.
    CONFLICT = "conflict"


def conditional_write_outcome(exc: BaseException) -> ConditionalWrite | None:
    """Return what ``exc`` says about a conditional write, or None when it is no such answer."""
    code, status = s3_error_code(exc)
    if status == 412 or code == "PreconditionFailed":
        return ConditionalWrite.TAKEN
    if status == 501 or code == "NotImplemented":
        return ConditionalWrite.UNSUPPORTED
    if code in ("ConditionalRequestConflict", "NoSuchUpload"):
        return ConditionalWrite.CONFLICT
    return None


def s3_error_code(exc: BaseException) -> tuple[str, int]:
    """Return ``(Code, HTTP status)`` of a botocore ``ClientError``; ``("", 0)`` for any other error."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return "", 0
    response: dict[str, Any] = exc.response or {}
    code = str((response.get("Error") or {}).get("Code") or "")
    status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
    return code, status


def explain_s3_error(exc: ClientError, *, bucket: str, key: str, write_permissions: str) -> Exception:
    """Return the provider's error for an S3 refusal that no retry cures; the ``ClientError`` otherwise.

    :param write_permissions: the permissions the upload needs (``s3:PutObject`` and, with the
        options chosen, ``s3:PutObjectTagging``, ``s3:PutObjectAcl``, ``kms:GenerateDataKey``).
    """
    code, status = s3_error_code(exc)
    operation = getattr(exc, "operation_name", "") or "a request"
    where = f"s3://{bucket}/{key}"
    if code == "NoSuchBucket":
        return AssemblyAIInvalidInputError(
            f"S3 bucket {bucket!r} does not exist (answer to {operation}): check s3_bucket or s3_key."
        )
    if status != 403 and code not in ("AccessDenied", "AllAccessDisabled"):
        unexplained: Exception = exc
        return unexplained
    needs = {
        "HeadObject": "s3:GetObject on the key, and s3:ListBucket on the bucket (without it S3 answers a "
        "missing key with 403 instead of 404)",
        "ListMultipartUploads": "s3:ListBucketMultipartUploads on the bucket",
        "AbortMultipartUpload": "s3:AbortMultipartUpload on the key",
    }.get(operation, write_permissions)
    return AssemblyAIFinalError(
        f"S3 refused {operation} for {where} (HTTP {status} {code}): the AWS connection needs {needs}. "
        "See the provider's docs/iam.md#iam-permissions."
    )
