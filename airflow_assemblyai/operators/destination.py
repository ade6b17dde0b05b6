"""A task that checks the archive destination before anything is uploaded or paid for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_assemblyai.archive.destination import check_path_destination, check_s3_destination
from airflow_assemblyai.archive.location import Destination, resolve_destination
from airflow_assemblyai.archive.s3_options import S3Options

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context, ObjectStoragePath


class AssemblyAICheckArchiveDestinationOperator(BaseOperator):
    """Fail at once when the archive destination does not exist or cannot be written.

    Put it upstream of the transcribe task, with the destination the transfer will write: a missing
    bucket or permission then fails the run before the audio is uploaded and the transcription paid
    for, instead of after the wait, with the transcript and its PII left at AssemblyAI. Nothing is
    left behind (see :mod:`airflow_assemblyai.archive.destination` for what is checked).

    :param s3_bucket: the archive bucket (templated); may be omitted when ``s3_key`` is ``s3://bucket/key``.
    :param s3_key: the archive key or a key prefix, or a full ``s3://bucket/key`` (templated).
    :param destination: instead of ``s3_bucket``/``s3_key``, any object-storage URI or
        ``ObjectStoragePath`` the transfer will write (``gs://``, ``abfs://``, ``file:///``...).
    :param aws_conn_id: the AWS connection the transfer uses.
    :param server_side_encryption: the transfer's ``server_side_encryption``, so that the probe upload
        asks for what the archive's writes will (a bucket policy that demands SSE-KMS, the KMS key's
        ``kms:GenerateDataKey``).
    :param sse_kms_key_id: the transfer's ``sse_kms_key_id``.
    """

    template_fields: Sequence[str] = ("s3_bucket", "s3_key", "destination")
    ui_color = "#f4e7d3"

    def __init__(
        self,
        *,
        s3_bucket: str | None = None,
        s3_key: str | None = None,
        destination: str | ObjectStoragePath | None = None,
        aws_conn_id: str | None = "aws_default",
        server_side_encryption: str | None = None,
        sse_kms_key_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.destination = destination
        self.aws_conn_id = aws_conn_id
        self.encryption = S3Options(
            server_side_encryption=server_side_encryption, sse_kms_key_id=sse_kms_key_id
        )

    def execute(self, context: Context) -> str:
        """Check the destination; return its URI."""
        if not self.destination and not self.s3_key and self.s3_bucket:  # the whole bucket: probe its root
            target = Destination("", str(self.s3_bucket).strip(), self.aws_conn_id)
        else:
            target = resolve_destination(
                s3_bucket=self.s3_bucket,
                s3_key=self.s3_key,
                destination=self.destination,
                aws_conn_id=self.aws_conn_id,
            )
        if target.path is not None:
            result = check_path_destination(target.path)
        else:
            from airflow.providers.amazon.aws.hooks.s3 import S3Hook

            client = S3Hook(aws_conn_id=target.aws_conn_id).get_conn()
            result = check_s3_destination(
                client, str(target.bucket), target.key, upload_args=self.encryption.extra_args()
            )
        self.log.info("Archive destination %s: %s.", result.uri, result.checked)
        return result.uri
