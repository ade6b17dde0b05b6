"""Move the redacted audio of a transcript from AssemblyAI into S3, streamed, verified, exactly once."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import httpx
from airflow.sdk import Asset, AssetAlias, BaseOperator

from airflow_assemblyai.archive.audio_format import HEADER_BYTES, check_audio_header
from airflow_assemblyai.archive.download import ResumableDownload
from airflow_assemblyai.archive.location import archive_uri, as_object_storage_path, split_s3_location
from airflow_assemblyai.archive.metadata import (
    META_AUDIO_FORMAT,
    META_RECORD_ROLE,
    META_SOURCE_ETAG,
    META_SOURCE_LENGTH,
    META_SOURCE_MD5,
    META_TRANSCRIPT_ID,
    ArchivedObject,
)
from airflow_assemblyai.archive.object_store_sink import (
    ObjectStorageRecordStore,
    digest_of,
    read_audio_digest,
    write_audio_digest,
    write_whole,
)
from airflow_assemblyai.archive.record import AudioDigest, DigestingReader, RecordKeys
from airflow_assemblyai.archive.record_writer import ArchivedAudio, RecordArchiver
from airflow_assemblyai.archive.s3_errors import explain_s3_error, s3_error_code
from airflow_assemblyai.archive.s3_sink import GuardedUpload, S3RecordStore
from airflow_assemblyai.archive.sinks import RecordStore, read_audio_digest_at, record_audio_digest
from airflow_assemblyai.exceptions import (
    AssemblyAIError,
    AssemblyAIFinalError,
    AssemblyAIInvalidInputError,
    AssemblyAIRequestError,
    AssemblyAITransientError,
)
from airflow_assemblyai.hooks.assemblyai import SUBTITLE_FORMATS, AssemblyAIHook, mask_redirect_location
from airflow_assemblyai.ids import validate_transcript_id
from airflow_assemblyai.redaction import AudioFormat, judge_transcript

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context, ObjectStoragePath

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
KMS_ENCRYPTION = ("aws:kms", "aws:kms:dsse")
OBJECT_LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
#: How long AssemblyAI keeps a redacted audio file, and how early the transfer warns before that.
RETENTION = timedelta(hours=24)
RETENTION_WARNING = timedelta(hours=2)
#: Copies tried per task attempt when a concurrent write gets in the way (409, a vanished upload).
WRITE_ROUNDS = 3
#: S3 answers after which the copy is simply tried again.
_RETRY_CODES = frozenset({"ConditionalRequestConflict", "NoSuchUpload"})


@dataclass
class _RunningCopy:
    """The parts of a copy in flight that ``on_kill`` must stop."""

    stream: ResumableDownload
    upload: GuardedUpload | None = None

    def stop(self) -> None:
        self.stream.cancel()
        if self.upload is not None:
            self.upload.cancel()


class AssemblyAIRedactedAudioToS3Operator(BaseOperator):
    """Copy the redacted audio of a transcript into S3 and return ``s3://bucket/key``.

    Each attempt asks AssemblyAI for a fresh pre-signed URL (masked, never stored) and streams it
    with a plain HTTP client into an S3 multipart upload through ``S3Hook`` (boto3's managed
    transfer): memory stays bounded by part size times in-memory chunks, nothing touches local disk.
    A cut download resumes with ``Range``; a URL whose credentials expired is replaced. Before the
    upload completes the bytes are shown to be the file: a WAV or MP3 header, the total length the
    file host announced, and the MD5 where its ETag is one; each part carries a checksum S3
    verifies. Any failure, and ``on_kill``, aborts the upload, so the object appears whole or not
    at all.

    With ``replace=False`` a key that already holds this transcript's audio (metadata written by this
    operator) is a success without any download, even after AssemblyAI dropped the file; any other
    object there fails the task and stays untouched. The write itself is conditional
    (``If-None-Match: *``), so of two tasks racing to one key exactly one completes; stores that
    answer the condition with 501 get the unconditional write after a check, with a warning.
    ``replace=True`` overwrites.

    The key is taken literally (``#``, ``?`` and ``//`` included); the returned URI and the asset
    added to an :class:`~airflow.sdk.AssetAlias` among the outlets percent-encode it.

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
    :param destination: instead of ``s3_bucket``/``s3_key``, where the audio goes as an
        ``ObjectStoragePath`` or its URI (templated): ``s3://`` takes the S3 path with all its
        guarantees (the path's ``conn_id`` as the AWS connection); any other store (``file://``,
        ``gs://``, ``abfs://``...) is written through Airflow's object-storage layer, streamed in
        bounded memory, visible only once verified; the SHA-256 of the audio and the transcript id
        are recorded beside it (``x.wav.digest.json``), so a re-run recognises it by content. See
        docs/record.md#object-stores.
    :param archive_record: archive the whole redacted record: beside the audio, the transcript as
        JSON (an allow-list of redacted fields), its subtitles and, last, a manifest listing each
        file's size and SHA-256; return the manifest's URI instead of the audio's. A failed attempt
        leaves the files it verified in place and a re-run completes the record. See docs/record.md#record.
    :param subtitle_formats: the subtitles archived with the record (``srt``, ``vtt``).
    :param chars_per_caption: the longest subtitle caption in characters; AssemblyAI's default when None.
    :param include_transcript_fields: transcript fields to archive beyond the allow-list (entities,
        summaries...): AssemblyAI does not redact them, so each run logs a warning.
    :param object_lock_mode: S3 Object Lock mode on every file written (``GOVERNANCE`` or ``COMPLIANCE``);
        the bucket must have Object Lock enabled.
    :param object_lock_retain_until: retention end, a ``datetime`` or a ``timedelta`` from the write.
    :param object_lock_legal_hold: put a legal hold on every file written.
    """

    template_fields: Sequence[str] = ("transcript_id", "s3_bucket", "s3_key", "destination")
    ui_color = "#e0e7ff"

    def __init__(
        self,
        *,
        transcript_id: str,
        s3_key: str | None = None,
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
        destination: str | ObjectStoragePath | None = None,
        archive_record: bool = False,
        subtitle_formats: Sequence[str] = SUBTITLE_FORMATS,
        chars_per_caption: int | None = None,
        include_transcript_fields: Sequence[str] = (),
        object_lock_mode: str | None = None,
        object_lock_retain_until: datetime | timedelta | None = None,
        object_lock_legal_hold: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.transcript_id = transcript_id
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.destination = destination
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
        self.archive_record = archive_record
        self.subtitle_formats = tuple(subtitle_formats)
        self.chars_per_caption = chars_per_caption
        self.include_transcript_fields = tuple(include_transcript_fields)
        self.object_lock_mode = object_lock_mode
        self.object_lock_retain_until = object_lock_retain_until
        self.object_lock_legal_hold = object_lock_legal_hold
        self._running: _RunningCopy | None = None
        self._kill_requested = False
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
        from botocore.exceptions import ClientError

        transcript_id = validate_transcript_id(self.transcript_id)
        target = self._target()
        if not isinstance(target, tuple):
            return self._execute_on_path(context, transcript_id, target)
        bucket, key = target
        uri = archive_uri(bucket, key)
        try:
            if self.archive_record:
                manifest_uri = self._archive_record(transcript_id, bucket, key)
                self._add_to_asset_aliases(context, uri, manifest_uri)
                return manifest_uri
            self._record_digest(transcript_id, bucket, key, self._archive(transcript_id, bucket, key))
        except ClientError as exc:
            raise explain_s3_error(
                exc, bucket=bucket, key=key, write_permissions=self._write_permissions()
            ) from None
        self._add_to_asset_aliases(context, uri)
        return uri

    def _archive_record(self, transcript_id: str, bucket: str, key: str) -> str:
        """Archive audio, transcript JSON and subtitles, then the manifest; return the manifest's URI."""
        keys = RecordKeys.beside(key)
        store = S3RecordStore(client=self.s3_hook.get_conn(), bucket=bucket, extra_args=self._s3_options())
        archiver = self._archiver(store, keys, transcript_id)
        _, wrote = archiver.complete(lambda: self._archive(transcript_id, bucket, key))
        if not wrote:
            self.log.info(
                "The record of transcript %s is already complete at %s.",
                transcript_id,
                store.uri(keys.manifest),
            )
        return store.uri(keys.manifest)

    def on_kill(self) -> None:
        """Stop a running copy: shut the download's connection and abort the multipart upload.

        Airflow calls this on SIGTERM (from the signal handler) and after an execution timeout,
        and sends SIGKILL a few seconds later; nothing here waits for the reading thread.
        """
        self._kill_requested = True
        running = self._running
        if running is not None:
            self.log.warning("Stopping the transfer: closing the download and aborting the upload.")
            running.stop()

    def _target(self) -> tuple[str, str] | ObjectStoragePath:
        """Return ``(bucket, key)`` of an S3 destination, or the ``ObjectStoragePath`` of another store."""
        if self.destination is None or self.destination == "":
            return split_s3_location(self.s3_bucket, self.s3_key)
        if self.s3_key or self.s3_bucket:
            raise AssemblyAIInvalidInputError(
                "destination and s3_bucket/s3_key are both set: give the destination one way only."
            )
        path = as_object_storage_path(self.destination)
        if path.protocol in ("s3", "s3a"):
            if path.conn_id:
                self.aws_conn_id = path.conn_id
            return split_s3_location(path.bucket, path.key)
        if self.object_lock_mode or self.object_lock_legal_hold:
            raise AssemblyAIInvalidInputError(
                f"object_lock_* options need an S3 destination; {path.protocol}:// has no S3 Object Lock."
            )
        return path

    def _execute_on_path(self, context: Context, transcript_id: str, path: ObjectStoragePath) -> str:
        """Archive the audio (and the record) through the object-storage layer; return the URI."""
        uri = f"{path.protocol}://{path.path}"
        if not self.archive_record:
            self._archive_to_path(transcript_id, path)
            self._add_to_asset_aliases(context, uri)
            return uri
        store = ObjectStorageRecordStore(conn_id=path.conn_id)
        keys = RecordKeys.beside(uri)
        archiver = self._archiver(store, keys, transcript_id)
        archiver.complete(lambda: self._archive_to_path(transcript_id, store.path(keys.audio)))
        self._add_to_asset_aliases(context, uri, keys.manifest)
        return keys.manifest

    def _archiver(self, store: RecordStore, keys: RecordKeys, transcript_id: str) -> RecordArchiver:
        return RecordArchiver(
            store=store,
            keys=keys,
            transcript_id=transcript_id,
            hook=self.hook,
            replace=self.replace,
            subtitle_formats=self.subtitle_formats,
            chars_per_caption=self.chars_per_caption,
            extra_fields=self.include_transcript_fields,
        )

    def _record_digest(self, transcript_id: str, bucket: str, key: str, audio: ArchivedAudio) -> None:
        """Record the audio's SHA-256 beside it (``x.wav.digest.json``): what the purge compares when the
        source's ETag was no MD5.

        A copy records what it hashed while streaming. An audio already there (an attempt stopped
        between the two writes) is read back, streamed, checked against the verified MD5 recorded on
        it when there is one, and its digest recorded.
        """
        store = S3RecordStore(client=self.s3_hook.get_conn(), bucket=bucket, extra_args=self._s3_options())
        if audio.wrote and audio.sha256 and audio.size is not None:
            recorded = AudioDigest(transcript_id, audio.size, audio.sha256, audio.source_md5)
        else:
            found = store.find(key)
            if found is None:
                raise AssemblyAITransientError(
                    f"s3://{bucket}/{key} vanished before its digest was recorded; retry the task."
                )
            there = read_audio_digest_at(store, key)
            if there is not None and (there.transcript_id, there.size) == (transcript_id, found.size):
                return
            digest = store.digest(key)
            if found.source_md5 is not None and digest.md5 != found.source_md5:
                raise AssemblyAIFinalError(
                    f"s3://{bucket}/{key} does not hold the bytes archived from transcript {transcript_id} "
                    "(their MD5 differs from the source's recorded on it); it was left untouched. Archive it "
                    "again with replace=True while the transcript is still at AssemblyAI."
                )
            self.log.info(
                "s3://%s/%s has no digest recorded beside it (an attempt stopped before writing it); "
                "recording the one of its bytes, read back.",
                bucket,
                key,
            )
            recorded = AudioDigest(transcript_id, digest.size, digest.sha256, found.source_md5)
        record_audio_digest(store, key, recorded, replace=self.replace)

    def _archive(self, transcript_id: str, bucket: str, key: str) -> ArchivedAudio:
        """Copy unless the key holds this transcript's audio (``wrote`` False then); settle races with
        conditional writes."""
        create_only = not self.replace
        last = ""
        for _ in range(WRITE_ROUNDS):
            if self._existing_archive(transcript_id, bucket, key):
                return ArchivedAudio(wrote=False)
            try:
                return self._copy(transcript_id, bucket, key, create_only=create_only)
            except Exception as exc:
                if self._kill_requested:
                    raise AssemblyAITransientError(
                        f"The transfer to s3://{bucket}/{key} was stopped (the task is being killed): the "
                        "download was closed, any multipart upload aborted, nothing written."
                    ) from exc
                code, status = _client_error_code(exc)
                last = f"HTTP {status} {code}"
                if status == 412 or code == "PreconditionFailed":
                    # Another writer completed first: whose object it is decides (the next check).
                    self.log.info("Another writer completed s3://%s/%s first; reading it.", bucket, key)
                elif create_only and (status == 501 or code == "NotImplemented"):
                    self.log.warning(
                        "The S3 store does not implement conditional writes (If-None-Match; %s): copying "
                        "again without them, after checking that the key is free. Two tasks writing one "
                        "key at the same time could now overwrite each other.",
                        last,
                    )
                    create_only = False
                elif code in _RETRY_CODES:
                    self.log.warning(
                        "S3 answered %s to the write of s3://%s/%s (a concurrent write); trying again.",
                        last,
                        bucket,
                        key,
                    )
                else:
                    raise
        if self._existing_archive(transcript_id, bucket, key):
            return ArchivedAudio(wrote=False)
        raise AssemblyAITransientError(
            f"The write of s3://{bucket}/{key} met concurrent writes {WRITE_ROUNDS} times (last: {last}); "
            "retry the task later."
        )

    @contextlib.contextmanager
    def _opened_download(
        self, transcript_id: str, target: str
    ) -> Iterator[tuple[ResumableDownload, AudioFormat]]:
        """Open the redacted audio's download (fresh URL, masked); yield it with its checked format.

        The transcript itself is read only to explain a redacted audio that is not there: on the
        way that works, an archive costs AssemblyAI one request per URL it needs.
        """
        description = f"the redacted audio of transcript {transcript_id}"
        with (
            httpx.Client(
                timeout=httpx.Timeout(self.download_timeout, connect=10.0),
                follow_redirects=True,
                # A redirect's URL is as secret as the pre-signed one: mask it before httpx logs it.
                event_hooks={"response": [mask_redirect_location]},
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
            self._running = _RunningCopy(stream)
            try:
                if self._kill_requested:
                    stream.cancel()
                stream.open()
                self._warn_when_expiring(transcript_id, stream.last_modified)
                yield stream, self._audio_format(stream, description, target)
            finally:
                self._running = None

    def _copy(self, transcript_id: str, bucket: str, key: str, *, create_only: bool) -> ArchivedAudio:
        """Stream the transcript's redacted audio to ``bucket``/``key``; return its digest."""
        s3 = self.s3_hook
        self._abort_unfinished_uploads(bucket, key)
        with self._opened_download(transcript_id, key) as (stream, audio_format):
            upload = GuardedUpload(
                client=s3.get_conn(),
                bucket=bucket,
                key=key,
                extra_args=self._upload_args(transcript_id, stream, audio_format),
                config=s3.transfer_config,
                create_only=create_only,
            )
            if self._running is not None:
                self._running.upload = upload
            self.log.info(
                "Streaming %s (%s, %s bytes, ETag %s) to s3://%s/%s%s",
                stream.description,
                audio_format,
                stream.length if stream.length is not None else "unknown",
                stream.etag or "none",
                bucket,
                key,
                " (create only)" if create_only else "",
            )
            # An execution timeout interrupts this thread: stop at once, as on SIGTERM.
            digesting = DigestingReader(stream)
            upload.run(digesting, on_interrupt=self.on_kill)
        self._log_copied(stream, f"s3://{bucket}/{key}")
        return self._archived(stream, digesting)

    def _copy_to_path(self, transcript_id: str, path: ObjectStoragePath) -> ArchivedAudio | None:
        """Stream the redacted audio to ``path`` through its store, whole or not at all; None if taken.

        Right before the file becomes visible, its SHA-256 (computed while streaming) and the
        transcript id are recorded beside it, so a re-run recognises it by content.
        """
        with self._opened_download(transcript_id, path.name) as (stream, audio_format):
            self.log.info(
                "Streaming %s (%s, %s bytes) to %s%s",
                stream.description,
                audio_format,
                stream.length if stream.length is not None else "unknown",
                path,
                " (create only)" if not self.replace else "",
            )
            digesting = DigestingReader(stream)

            def record_digest() -> None:
                archived, digest = self._archived(stream, digesting), digesting.digest
                size = digest.size if digest else 0
                write_audio_digest(
                    path, AudioDigest(transcript_id, size, archived.sha256 or "", archived.source_md5)
                )

            if not write_whole(path, digesting, create_only=not self.replace, before_commit=record_digest):
                return None
        self._log_copied(stream, str(path))
        return self._archived(stream, digesting)

    def _archived(self, stream: ResumableDownload, digesting: DigestingReader) -> ArchivedAudio:
        """Return what a copy read to its end wrote: the SHA-256 of its bytes, the source's MD5."""
        digest = digesting.digest
        if digest is None:
            raise AssemblyAIFinalError(f"The copy of {stream.description} ended before its last byte.")
        verified = stream.etag if stream.etag_is_md5 and digest.md5 == stream.etag else None
        return ArchivedAudio(wrote=True, sha256=digest.sha256, source_md5=verified, size=digest.size)

    def _archive_to_path(self, transcript_id: str, path: ObjectStoragePath) -> ArchivedAudio:
        """Copy unless ``path`` holds this transcript's audio (``wrote`` False then); refuse other files."""
        for _ in range(WRITE_ROUNDS):
            found = self._existing_file(transcript_id, path)
            if found is not None:
                return found
            copied = self._copy_to_path(transcript_id, path)
            if copied is not None:
                return copied
        raise AssemblyAITransientError(
            f"The write of {path} met concurrent writes {WRITE_ROUNDS} times; retry the task later."
        )

    def _existing_file(self, transcript_id: str, path: ObjectStoragePath) -> ArchivedAudio | None:
        """Return what ``path`` holds when it is this transcript's audio, shown by content; None when free.

        The stored bytes' SHA-256 is compared with the one the attempt that wrote them recorded beside
        them; failing that, their MD5 with the source's, when the source's ETag is an MD5.
        """
        if not path.exists():
            return None
        if self.replace:
            self.log.info("%s exists; replace=True, so it will be overwritten.", path)
            return None
        stored = digest_of(path)
        recorded = read_audio_digest(path)
        if (
            recorded is not None
            and recorded.transcript_id == transcript_id
            and (recorded.sha256, recorded.size) == (stored.sha256, stored.size)
        ):
            self.log.info(
                "%s already holds the redacted audio of transcript %s (its SHA-256 matches the one recorded "
                "when it was written).",
                path,
                transcript_id,
            )
            return ArchivedAudio(wrote=False, sha256=stored.sha256, source_md5=recorded.source_md5)
        with self._opened_download(transcript_id, path.name) as (stream, _):
            same = stream.etag_is_md5 and stream.length == stored.size and stored.md5 == stream.etag
        if same:
            self.log.info(
                "%s already holds the redacted audio of transcript %s (length and MD5).", path, transcript_id
            )
            return ArchivedAudio(wrote=False, sha256=stored.sha256, source_md5=stored.md5)
        raise AssemblyAIFinalError(
            f"{path} already exists and is not shown to be the redacted audio of transcript {transcript_id} "
            "(no SHA-256 recorded beside it by the attempt that wrote it matches its bytes, and its length "
            "or MD5 differs from the source's, or the source has no MD5 to compare); it was left untouched. "
            "Set replace=True to overwrite it, or choose another destination."
        )

    def _log_copied(self, stream: ResumableDownload, where: str) -> None:
        self.log.info(
            "Copied %d bytes to %s (%d download attempt(s), MD5 %s).",
            stream.bytes_received,
            where,
            stream.attempts,
            "verified" if stream.etag_is_md5 and self.verify_md5 else "not applicable",
        )

    # -- steps ----------------------------------------------------------------------------------

    def _fresh_url(self, transcript_id: str) -> str:
        """Ask AssemblyAI for a newly minted (masked) URL of the redacted audio."""
        try:
            audio = self.hook.get_redacted_audio(transcript_id)
        except AssemblyAIRequestError as exc:
            if type(exc) is AssemblyAIRequestError:  # a refusal its text did not classify
                self._explain_missing_audio(transcript_id)
            raise
        if not audio.ready or not audio.url:
            self._explain_missing_audio(transcript_id)
            raise AssemblyAIError(
                f"The redacted audio of transcript {transcript_id} is still being rendered; retry the task "
                "later, or wait with AssemblyAIRedactedAudioSensor first."
            )
        return audio.url

    def _explain_missing_audio(self, transcript_id: str) -> None:
        """Read the transcript to say why its redacted audio is not there: its final error, or that
        it is still processing. Return when the transcript has completed."""
        waiting = judge_transcript(transcript_id, self.hook.get_transcript(transcript_id))
        if waiting is not None:
            raise AssemblyAIError(
                f"Transcript {transcript_id} is still {waiting.reason}, so its redacted audio is not ready. "
                "Wait for it with AssemblyAIRedactedAudioSensor before this task."
            )

    def _existing_archive(self, transcript_id: str, bucket: str, key: str) -> bool:
        """Return True when the key holds this transcript's audio; raise if it holds another object."""
        head = self.s3_hook.head_object(key, bucket)
        if head is None:
            return False
        found = ArchivedObject.from_head(head)
        if self.replace:
            self.log.info("s3://%s/%s exists; replace=True, so it will be overwritten.", bucket, key)
            return False
        if found.holds(transcript_id):
            self.log.info(
                "s3://%s/%s already holds the redacted audio of transcript %s%s; nothing to copy.",
                bucket,
                key,
                transcript_id,
                ""
                if found.recorded_length is not None
                else " (recognised by its transcript id: no length was recorded)",
            )
            return True
        raise AssemblyAIFinalError(
            f"s3://{bucket}/{key} already exists and holds {found.describe(transcript_id)}; it was left "
            "untouched. Set replace=True to overwrite it, or choose another s3_key."
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

    def _warn_when_expiring(self, transcript_id: str, rendered_at: datetime | None) -> None:
        """Warn when AssemblyAI's 24 hours for the file (from its ``Last-Modified``) are nearly over."""
        if rendered_at is None or rendered_at.tzinfo is None:
            return
        left = rendered_at + RETENTION - datetime.now(UTC)
        if left > RETENTION_WARNING:
            return
        when = rendered_at.strftime("%Y-%m-%d %H:%M UTC")
        if left.total_seconds() <= 0:
            self.log.warning(
                "The redacted audio of transcript %s was rendered at %s, more than AssemblyAI's 24 hours "
                "ago: it may disappear at any moment.",
                transcript_id,
                when,
            )
            return
        minutes = int(left.total_seconds() // 60)
        self.log.warning(
            "The redacted audio of transcript %s was rendered at %s; AssemblyAI keeps it 24 hours, so about "
            "%dh%02dm are left to archive it. After that the audio must be submitted again.",
            transcript_id,
            when,
            minutes // 60,
            minutes % 60,
        )

    def _audio_format(self, stream: ResumableDownload, description: str, target: str) -> AudioFormat:
        """Return the format the file's first bytes show; refuse what is not audio.

        The bytes decide the Content-Type; a target whose suffix names the other format gets a
        warning, since the name will mislead whoever reads the archive.
        """
        found = check_audio_header(stream.peek(HEADER_BYTES), stream.length, description=description)
        suffix = target.rsplit(".", 1)[-1].lower() if "." in target else ""
        named = {"mp3": "mp3", "wav": "wav", "wave": "wav"}.get(suffix)
        if named is not None and named != found:
            self.log.warning(
                "%s is %s but its target %s is named .%s; labelling it %s by its bytes.",
                description[0].upper() + description[1:],
                found,
                target,
                suffix,
                found,
            )
        return found

    def _upload_args(
        self, transcript_id: str, stream: ResumableDownload, audio_format: AudioFormat
    ) -> dict[str, Any]:
        """Return boto3 ``ExtraArgs``: type, metadata, checksum and the S3 options chosen."""
        args = self._s3_options()
        args["ContentType"] = CONTENT_TYPES[audio_format]
        args["Metadata"] = {
            **args.get("Metadata", {}),
            META_TRANSCRIPT_ID: transcript_id,
            META_SOURCE_ETAG: stream.etag or "",
            META_SOURCE_LENGTH: "" if stream.length is None else str(stream.length),
            META_AUDIO_FORMAT: audio_format,
            META_RECORD_ROLE: "audio",
        }
        if self.verify_md5 and stream.etag_is_md5 and stream.etag:
            # The upload completes only after the streamed bytes' MD5 matched it.
            args["Metadata"][META_SOURCE_MD5] = stream.etag
        if self.checksum_algorithm:
            args["ChecksumAlgorithm"] = self.checksum_algorithm
        return args

    def _s3_options(self) -> dict[str, Any]:
        """Return the ``ExtraArgs`` every file written carries: encryption, class, ACL, tags, Object Lock."""
        args: dict[str, Any] = dict(self.s3_hook.extra_args)
        encryption = self._encryption()
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
        if self.object_lock_mode:
            args["ObjectLockMode"] = self.object_lock_mode
            until = self.object_lock_retain_until
            args["ObjectLockRetainUntilDate"] = (
                datetime.now(UTC) + until if isinstance(until, timedelta) else until
            )
        if self.object_lock_legal_hold:
            args["ObjectLockLegalHoldStatus"] = "ON"
        return args

    def _encryption(self) -> str | None:
        return self.server_side_encryption or ("aws:kms" if self.sse_kms_key_id else None)

    def _write_permissions(self) -> str:
        """Name the permissions the upload needs with the options chosen."""
        needs = ["s3:PutObject"]
        if self.tags:
            needs.append("s3:PutObjectTagging")
        if self.acl_policy:
            needs.append("s3:PutObjectAcl")
        if self.object_lock_mode:
            needs.append("s3:PutObjectRetention")
        if self.object_lock_legal_hold:
            needs.append("s3:PutObjectLegalHold")
        if self._encryption() in KMS_ENCRYPTION:
            needs.append("kms:GenerateDataKey and kms:Decrypt on the KMS key")
        return ", ".join(needs) + " on the key"

    def _check_static_arguments(self) -> None:
        self._check_record_arguments()
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

    def _check_record_arguments(self) -> None:
        unknown = [fmt for fmt in self.subtitle_formats if fmt not in SUBTITLE_FORMATS]
        if unknown:
            raise AssemblyAIInvalidInputError(
                f"subtitle_formats holds {unknown!r}: AssemblyAI exports 'srt' and 'vtt' only."
            )
        if self.chars_per_caption is not None and (
            isinstance(self.chars_per_caption, bool)
            or not isinstance(self.chars_per_caption, int)
            or self.chars_per_caption < 1
        ):
            raise AssemblyAIInvalidInputError(
                f"chars_per_caption must be a positive whole number, got {self.chars_per_caption!r}."
            )
        if self.object_lock_mode not in (None, *OBJECT_LOCK_MODES):
            raise AssemblyAIInvalidInputError(
                f"object_lock_mode must be 'GOVERNANCE' or 'COMPLIANCE', got {self.object_lock_mode!r}."
            )
        if bool(self.object_lock_mode) != (self.object_lock_retain_until is not None):
            raise AssemblyAIInvalidInputError(
                "object_lock_mode and object_lock_retain_until go together: give both (a retention needs a "
                "mode and an end), or neither."
            )
        until = self.object_lock_retain_until
        if isinstance(until, timedelta) and until <= timedelta(0):
            raise AssemblyAIInvalidInputError("object_lock_retain_until must be a positive timedelta.")
        if isinstance(until, datetime) and until.tzinfo is None:
            raise AssemblyAIInvalidInputError(
                "object_lock_retain_until must be timezone-aware (e.g. pendulum or datetime with tzinfo=UTC)."
            )

    def _add_to_asset_aliases(self, context: Context, *uris: str) -> None:
        """Attach the concrete assets (the audio's, the manifest's) to every asset alias among the outlets."""
        aliases = [outlet for outlet in self.outlets if isinstance(outlet, AssetAlias)]
        if not aliases:
            return
        events = context["outlet_events"]
        for alias in aliases:
            for uri in uris:
                events[alias].add(Asset(uri))

    # -- lineage ----------------------------------------------------------------------------------

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """Describe the transcript as input and the S3 object as output (never the URL)."""
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        transcript_id = validate_transcript_id(self.transcript_id)
        source = Dataset(namespace=self._lineage_namespace(), name=f"v2/transcript/{transcript_id}")
        where = self._target()
        if isinstance(where, tuple):
            target = Dataset(namespace=f"s3://{where[0]}", name=where[1])
        else:
            target = Dataset(namespace=f"{where.protocol}://", name=str(where.path))
        return OperatorLineage(inputs=[source], outputs=[target])

    def _lineage_namespace(self) -> str:
        """Return the API's scheme, host and port: never a user or password written into the Host."""
        try:
            parts = urlsplit(self.hook.base_url)
            port = f":{parts.port}" if parts.port else ""
        except Exception:
            return "https://api.assemblyai.com"
        return f"{parts.scheme}://{parts.hostname or ''}{port}"


def _client_error_code(exc: BaseException) -> tuple[str, int]:
    """Return ``(Code, HTTP status)`` when ``exc`` is a botocore ``ClientError``; empty otherwise."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return s3_error_code(exc)
    return "", 0
