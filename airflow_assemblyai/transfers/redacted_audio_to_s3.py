"""Move the redacted audio of a transcript from AssemblyAI into S3, streamed, verified, exactly once."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import httpx
from airflow.sdk import Asset, AssetAlias, BaseOperator

from airflow_assemblyai.exceptions import (
    AssemblyAIError,
    AssemblyAIFinalError,
    AssemblyAIInvalidInputError,
)
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.redaction import AudioFormat, audio_format_of, judge_transcript
from airflow_assemblyai.transfers.stream import ResumableDownload

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

MiB = 1024 * 1024
CONTENT_TYPES: dict[AudioFormat, str] = {"mp3": "audio/mpeg", "wav": "audio/wav"}
#: Managed-transfer settings (``TransferConfig`` arguments plus ``max_in_memory_upload_chunks``);
#: peak memory is about part size x (in-memory chunks + 1).
DEFAULT_TRANSFER_CONFIG: dict[str, Any] = {
    "multipart_threshold": 8 * MiB,
    "multipart_chunksize": 8 * MiB,
    "max_concurrency": 4,
    "max_in_memory_upload_chunks": 4,
    "use_threads": True,
    # The classic s3transfer reads a non-seekable stream part by part (bounded memory).
    "preferred_transfer_client": "classic",
}
#: Object metadata keys (sent as ``x-amz-meta-*``).
META_TRANSCRIPT_ID = "assemblyai-transcript-id"
META_SOURCE_ETAG = "assemblyai-source-etag"
META_SOURCE_LENGTH = "assemblyai-source-length"
META_AUDIO_FORMAT = "assemblyai-audio-format"
KMS_ENCRYPTION = ("aws:kms", "aws:kms:dsse")


class AssemblyAIRedactedAudioToS3Operator(BaseOperator):
    """Copy the redacted audio of a transcript into S3 and return ``s3://bucket/key``.

    Each attempt asks AssemblyAI for a fresh pre-signed URL (masked, never stored) and streams it
    with a plain HTTP client into an S3 multipart upload through ``S3Hook`` (boto3's managed
    transfer): memory stays bounded by part size times in-memory chunks, nothing touches local disk.
    A cut download resumes with ``Range``; an expired URL is replaced. Each part carries a checksum
    S3 verifies; the whole stream is checked against the announced length and, where the source's
    ETag is a plain MD5, against an MD5 computed on the way, before the upload is completed. Any
    failure aborts the upload, so the object appears whole or not at all.

    With ``replace=False`` a key that already holds this transcript's audio (metadata written by this
    operator) is a success without any download, even after AssemblyAI dropped the file; any other
    object there fails the task and stays untouched. ``replace=True`` overwrites.

    Outlets that are an :class:`~airflow.sdk.AssetAlias` receive the concrete ``s3://`` asset.

    :param transcript_id: the AssemblyAI transcript whose redacted audio is copied (templated).
    :param s3_bucket: destination bucket (templated); may be omitted when ``s3_key`` is ``s3://bucket/key``.
    :param s3_key: destination key, or a full ``s3://bucket/key`` (templated).
    :param aws_conn_id: Airflow connection to AWS.
    :param assemblyai_conn_id: Airflow connection to AssemblyAI.
    :param replace: overwrite an object at the key that is not this transcript's audio.
    :param server_side_encryption: ``AES256`` (SSE-S3), ``aws:kms`` or ``aws:kms:dsse`` (SSE-KMS).
    :param sse_kms_key_id: KMS key for SSE-KMS; implies ``aws:kms`` when no mode is given.
    :param storage_class: S3 storage class, e.g. ``STANDARD_IA`` or ``GLACIER_IR``.
    :param acl_policy: canned ACL, e.g. ``bucket-owner-full-control``.
    :param tags: object tags.
    :param checksum_algorithm: per-part checksum S3 verifies (``CRC32``, ``CRC32C``, ``SHA256``...).
    :param transfer_config_args: ``boto3.s3.transfer.TransferConfig`` arguments over the defaults.
    :param max_download_attempts: connection attempts for the download, the first included; the
        backoff between them follows the AssemblyAI connection's ``retry_wait_*`` settings.
    :param download_timeout: seconds to wait on the file host for each network step.
    :param verify_md5: compare an MD5 computed while streaming with a plain-MD5 source ETag.
    """

    template_fields: Sequence[str] = ("transcript_id", "s3_bucket", "s3_key")
    ui_color = "#e0e7ff"

    def __init__(
        self,
        *,
        transcript_id: str,
        s3_key: str,
        s3_bucket: str | None = None,
        aws_conn_id: str | None = "aws_default",
        assemblyai_conn_id: str = AssemblyAIHook.default_conn_name,
        replace: bool = False,
        server_side_encryption: str | None = None,
        sse_kms_key_id: str | None = None,
        storage_class: str | None = None,
        acl_policy: str | None = None,
        tags: dict[str, str] | None = None,
        checksum_algorithm: str | None = "CRC32",
        transfer_config_args: dict[str, Any] | None = None,
        max_download_attempts: int = 5,
        download_timeout: float = 60.0,
        verify_md5: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.transcript_id = transcript_id
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.aws_conn_id = aws_conn_id
        self.assemblyai_conn_id = assemblyai_conn_id
        self.replace = replace
        self.server_side_encryption = server_side_encryption
        self.sse_kms_key_id = sse_kms_key_id
        self.storage_class = storage_class
        self.acl_policy = acl_policy
        self.tags = dict(tags or {})
        self.checksum_algorithm = checksum_algorithm
        self.transfer_config_args = {**DEFAULT_TRANSFER_CONFIG, **(transfer_config_args or {})}
        self.max_download_attempts = max_download_attempts
        self.download_timeout = download_timeout
        self.verify_md5 = verify_md5
        self._check_static_arguments()

    # -- hooks ----------------------------------------------------------------------------------

    @cached_property
    def hook(self) -> AssemblyAIHook:
        """Return the AssemblyAI hook."""
        return AssemblyAIHook(assemblyai_conn_id=self.assemblyai_conn_id)

    @cached_property
    def s3_hook(self) -> S3Hook:
        """Return the S3 hook whose managed-transfer config streams the upload."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        args = dict(self.transfer_config_args)
        # boto3's TransferConfig takes this s3transfer setting only as an attribute.
        in_memory_chunks = args.pop("max_in_memory_upload_chunks", None)
        hook = S3Hook(aws_conn_id=self.aws_conn_id, transfer_config_args=args)
        if in_memory_chunks is not None:
            hook.transfer_config.max_in_memory_upload_chunks = int(in_memory_chunks)
        return hook

    # -- the task -------------------------------------------------------------------------------

    def execute(self, context: Context) -> str:
        """Stream the redacted audio into S3 (or find it there already); return ``s3://bucket/key``."""
        transcript_id, bucket, key = self.resolve_arguments()
        uri = f"s3://{bucket}/{key}"
        if self._already_there(transcript_id, bucket, key):
            self.log.info(
                "%s already holds the redacted audio of transcript %s; nothing to copy.", uri, transcript_id
            )
        else:
            self.copy(transcript_id, bucket, key)
        self._add_to_asset_aliases(context, uri)
        return uri

    def resolve_arguments(self) -> tuple[str, str, str]:
        """Return ``(transcript_id, bucket, key)`` after checking them; raise naming the field to fix."""
        transcript_id = str(self.transcript_id or "").strip()
        if not transcript_id:
            raise AssemblyAIInvalidInputError(
                "transcript_id is empty: pass the id returned by the transcribe task (its XCom)."
            )
        bucket = str(self.s3_bucket or "").strip()
        key = str(self.s3_key or "").strip()
        if not key:
            raise AssemblyAIInvalidInputError("s3_key is empty: pass the object key, or s3://bucket/key.")
        if key.startswith("s3://"):
            parts = urlsplit(key)
            url_bucket, key = parts.netloc, parts.path.lstrip("/")
            if not url_bucket or not key:
                raise AssemblyAIInvalidInputError(
                    f"s3_key {self.s3_key!r} names no bucket or no key: write it as s3://bucket/key."
                )
            if bucket and bucket != url_bucket:
                raise AssemblyAIInvalidInputError(
                    f"s3_key names bucket {url_bucket!r} but s3_bucket is {bucket!r}: leave s3_bucket empty "
                    "or make them equal."
                )
            bucket = url_bucket
        if not bucket:
            raise AssemblyAIInvalidInputError(
                "s3_bucket is missing: pass s3_bucket, or a full s3://bucket/key as s3_key."
            )
        return transcript_id, bucket, key

    def copy(self, transcript_id: str, bucket: str, key: str) -> int:
        """Stream the transcript's redacted audio to ``bucket``/``key``; return the bytes copied."""
        transcript = self.hook.get_transcript(transcript_id)
        waiting = judge_transcript(transcript_id, transcript)
        if waiting is not None:
            raise AssemblyAIError(
                f"Transcript {transcript_id} is still {waiting.reason}, so its redacted audio is not ready. "
                "Wait for it with AssemblyAIRedactedAudioSensor before this task."
            )
        s3 = self.s3_hook
        self._abort_unfinished_uploads(bucket, key)
        description = f"the redacted audio of transcript {transcript_id}"
        with (
            httpx.Client(
                timeout=httpx.Timeout(self.download_timeout, connect=10.0), follow_redirects=True
            ) as client,
            ResumableDownload(
                lambda: self._fresh_url(transcript_id),
                client=client,
                max_attempts=self.max_download_attempts,
                retry_wait_initial=self.hook.retry_wait_initial,
                retry_wait_max=self.hook.retry_wait_max,
                verify_md5=self.verify_md5,
                description=description,
            ) as stream,
        ):
            stream.open()
            audio_format = self._audio_format(stream.peek(12), audio_format_of(transcript), transcript_id)
            extra_args = self._upload_args(transcript_id, stream, audio_format)
            self.log.info(
                "Streaming %s (%s, %s bytes, ETag %s) to s3://%s/%s",
                description,
                audio_format,
                stream.length if stream.length is not None else "unknown",
                stream.etag or "none",
                bucket,
                key,
            )
            s3.get_conn().upload_fileobj(stream, bucket, key, ExtraArgs=extra_args, Config=s3.transfer_config)
            self.log.info(
                "Copied %d bytes to s3://%s/%s (%d download attempt(s), MD5 %s).",
                stream.bytes_received,
                bucket,
                key,
                stream.attempts,
                "verified" if stream.etag_is_md5 and self.verify_md5 else "not applicable",
            )
            return stream.bytes_received

    # -- steps ----------------------------------------------------------------------------------

    def _fresh_url(self, transcript_id: str) -> str:
        """Ask AssemblyAI for a newly minted (masked) URL of the redacted audio."""
        audio = self.hook.get_redacted_audio(transcript_id)
        if not audio.ready or not audio.url:
            raise AssemblyAIError(
                f"The redacted audio of transcript {transcript_id} is still being rendered; retry the task "
                "later, or wait with AssemblyAIRedactedAudioSensor first."
            )
        return audio.url

    def _already_there(self, transcript_id: str, bucket: str, key: str) -> bool:
        """Return True when the key holds this transcript's audio; raise if it holds another object."""
        head = self.s3_hook.head_object(key, bucket)
        if head is None:
            return False
        metadata = head.get("Metadata") or {}
        ours = metadata.get(META_TRANSCRIPT_ID) == transcript_id and metadata.get(META_SOURCE_LENGTH) == str(
            head.get("ContentLength")
        )
        if self.replace:
            self.log.info("s3://%s/%s exists; replace=True, so it will be overwritten.", bucket, key)
            return False
        if ours:
            return True
        holder = metadata.get(META_TRANSCRIPT_ID)
        what = f"the audio of transcript {holder}" if holder else "an object this operator did not write"
        raise AssemblyAIFinalError(
            f"s3://{bucket}/{key} already exists and holds {what}; it was left untouched. Set replace=True "
            "to overwrite it, or choose another s3_key."
        )

    def _abort_unfinished_uploads(self, bucket: str, key: str) -> None:
        """Abort multipart uploads left unfinished on this exact key (by an attempt that died)."""
        client = self.s3_hook.get_conn()
        paginator = client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=bucket, Prefix=key):
            for upload in page.get("Uploads", []):
                if upload.get("Key") == key:
                    client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
                    self.log.warning(
                        "Aborted an unfinished multipart upload to s3://%s/%s started %s.",
                        bucket,
                        key,
                        upload.get("Initiated"),
                    )

    def _audio_format(self, head: bytes, requested: AudioFormat, transcript_id: str) -> AudioFormat:
        """Return the format the file's first bytes show; warn when it is not the one requested."""
        found = sniff_audio_format(head)
        if found is None:
            self.log.warning(
                "The redacted audio of transcript %s starts with neither a WAV nor an MP3 header; "
                "labelling it %s as requested.",
                transcript_id,
                requested,
            )
            return requested
        if found != requested:
            self.log.warning(
                "Transcript %s asked for %s redacted audio but the file is %s; labelling it %s.",
                transcript_id,
                requested,
                found,
                found,
            )
        return found

    def _upload_args(
        self, transcript_id: str, stream: ResumableDownload, audio_format: AudioFormat
    ) -> dict[str, Any]:
        """Return boto3 ``ExtraArgs``: type, metadata, checksum and the S3 options chosen."""
        args: dict[str, Any] = dict(self.s3_hook.extra_args)
        args["ContentType"] = CONTENT_TYPES[audio_format]
        args["Metadata"] = {
            **args.get("Metadata", {}),
            META_TRANSCRIPT_ID: transcript_id,
            META_SOURCE_ETAG: stream.etag or "",
            META_SOURCE_LENGTH: "" if stream.length is None else str(stream.length),
            META_AUDIO_FORMAT: audio_format,
        }
        if self.checksum_algorithm:
            args["ChecksumAlgorithm"] = self.checksum_algorithm
        encryption = self.server_side_encryption or ("aws:kms" if self.sse_kms_key_id else None)
        if encryption:
            args["ServerSideEncryption"] = encryption
        if self.sse_kms_key_id:
            args["SSEKMSKeyId"] = self.sse_kms_key_id
        if self.storage_class:
            args["StorageClass"] = self.storage_class
        if self.acl_policy:
            args["ACL"] = self.acl_policy
        if self.tags:
            args["Tagging"] = urlencode(self.tags)
        return args

    def _check_static_arguments(self) -> None:
        if self.max_download_attempts < 1:
            raise AssemblyAIInvalidInputError("max_download_attempts must be 1 or more.")
        if self.download_timeout <= 0:
            raise AssemblyAIInvalidInputError("download_timeout must be a positive number of seconds.")
        if self.sse_kms_key_id and self.server_side_encryption not in (None, *KMS_ENCRYPTION):
            raise AssemblyAIInvalidInputError(
                f"sse_kms_key_id needs server_side_encryption 'aws:kms' or 'aws:kms:dsse', got "
                f"{self.server_side_encryption!r}: change it or drop sse_kms_key_id."
            )
        if self.server_side_encryption not in (None, "AES256", *KMS_ENCRYPTION):
            raise AssemblyAIInvalidInputError(
                f"server_side_encryption must be 'AES256', 'aws:kms' or 'aws:kms:dsse', got "
                f"{self.server_side_encryption!r}."
            )

    def _add_to_asset_aliases(self, context: Context, uri: str) -> None:
        """Attach the concrete S3 asset to every asset alias among the outlets."""
        aliases = [outlet for outlet in self.outlets if isinstance(outlet, AssetAlias)]
        if not aliases:
            return
        events = context["outlet_events"]
        for alias in aliases:
            events[alias].add(Asset(uri))

    # -- lineage ----------------------------------------------------------------------------------

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """Describe the transcript as input and the S3 object as output (never the URL)."""
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        transcript_id, bucket, key = self.resolve_arguments()
        source = Dataset(namespace=self._lineage_namespace(), name=f"v2/transcript/{transcript_id}")
        target = Dataset(namespace=f"s3://{bucket}", name=key)
        return OperatorLineage(inputs=[source], outputs=[target])

    def _lineage_namespace(self) -> str:
        try:
            parts = urlsplit(self.hook.base_url)
        except Exception:
            return "https://api.assemblyai.com"
        return f"{parts.scheme}://{parts.netloc}"


def sniff_audio_format(head: bytes) -> AudioFormat | None:
    """Return ``wav`` or ``mp3`` from a file's first bytes (RIFF/WAVE, ID3 or an MPEG frame sync)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None
