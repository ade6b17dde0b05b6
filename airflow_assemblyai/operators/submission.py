"""A submission marker: what a transcribe task submitted, kept in S3 so a later run finds it again.

The marker is written in two steps around the one request that bills, ``POST /v2/transcript``:
first a claim (create-only, no transcript id) right before the request, then the transcript id
right after the answer. A later run that finds the id resumes that transcript; one that finds a
claim without an id cannot tell whether the request reached AssemblyAI, so it never sends it again
and says how to settle it. The marker holds the transcript id, the source and two times: never a
URL (an ``audio_url`` may be pre-signed) and never a key.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_assemblyai.archive.location import parse_archive_uri
from airflow_assemblyai.archive.s3_errors import (
    ConditionalWrite,
    conditional_write_outcome,
    explain_s3_error,
    s3_error_code,
)
from airflow_assemblyai.exceptions import AssemblyAIFinalError, AssemblyAIInvalidInputError

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook


@dataclass(frozen=True)
class Submission:
    """What a marker records about one submission."""

    #: The transcript id, or None while the submission's answer is not recorded.
    transcript_id: str | None = None
    #: Where the audio came from (a path or object-storage URI; None for an ``audio_url``).
    source: str | None = None
    #: When the submission started (ISO 8601, UTC), right before its request.
    started_at: str | None = None
    #: When AssemblyAI's answer was recorded (ISO 8601, UTC).
    submitted_at: str | None = None


class SubmissionMarker:
    """The marker at ``uri`` (``s3://bucket/key``), read and written through ``aws_conn_id``."""

    def __init__(self, uri: str, *, aws_conn_id: str | None = "aws_default") -> None:
        self.uri = str(uri).strip()
        if not self.uri.startswith("s3://"):
            raise AssemblyAIInvalidInputError(
                f"submission_marker {self.uri[:200]!r} is not s3://bucket/key: name the S3 object that "
                "records this audio's submission (for example beside its archive key)."
            )
        self.bucket, self.key = parse_archive_uri(self.uri, field="submission_marker")
        self.aws_conn_id = aws_conn_id

    @cached_property
    def s3_hook(self) -> S3Hook:
        """Return the S3 hook of ``aws_conn_id``."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.aws_conn_id)

    def read(self) -> Submission | None:
        """Return the submission recorded at the marker, or None when there is no marker."""
        from botocore.exceptions import ClientError

        try:
            body = self.s3_hook.get_conn().get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except ClientError as exc:
            if s3_error_code(exc)[0] in ("NoSuchKey", "404"):
                return None
            raise self._explain(exc) from None
        try:
            fields = json.loads(body)
            return Submission(**{k: v for k, v in fields.items() if k in Submission.__dataclass_fields__})
        except (ValueError, TypeError, AttributeError):
            raise AssemblyAIFinalError(
                f"The submission marker {self.uri} is not a JSON object: write it as "
                '{"transcript_id": "<id>"}, or delete it to submit the audio again.'
            ) from None

    def claim(self, source: str | None) -> Submission | None:
        """Write a claim without a transcript id, only if no marker exists; return it, or None if one does."""
        submission = Submission(source=source, started_at=_now())
        return submission if self._put(submission, create_only=True) else None

    def record(self, claimed: Submission | None, transcript_id: str) -> Submission:
        """Record the transcript id over the claim; return what was written."""
        submission = Submission(
            transcript_id=transcript_id,
            source=claimed.source if claimed else None,
            started_at=claimed.started_at if claimed else None,
            submitted_at=_now(),
        )
        self._put(submission, create_only=False)
        return submission

    def remove(self) -> None:
        """Delete the marker (nothing is left to resume)."""
        self.s3_hook.get_conn().delete_object(Bucket=self.bucket, Key=self.key)

    def _put(self, submission: Submission, *, create_only: bool) -> bool:
        from botocore.exceptions import ClientError

        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key, "ContentType": "application/json"}
        if create_only:
            args["IfNoneMatch"] = "*"
        body = json.dumps({k: v for k, v in asdict(submission).items() if v is not None}).encode()
        try:
            self.s3_hook.get_conn().put_object(Body=body, **args)
        except ClientError as exc:
            outcome = conditional_write_outcome(exc) if create_only else None
            if outcome in (
                ConditionalWrite.TAKEN,
                ConditionalWrite.CONFLICT,
            ):  # another claim won, or is winning
                return False
            if outcome is ConditionalWrite.UNSUPPORTED:
                # A store without conditional writes: check, then write (two racing writers could both win).
                return self.read() is None and self._put(submission, create_only=False)
            raise self._explain(exc) from None
        return True

    def _explain(self, exc: Any) -> Exception:
        needs = "s3:GetObject, s3:PutObject and s3:DeleteObject on the marker, s3:ListBucket on its bucket"
        return explain_s3_error(exc, bucket=self.bucket, key=self.key, write_permissions=needs)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
