"""The S3 sink: each file written once, with conditional writes; the audio as one guarded managed upload.

:class:`S3Sink` is the :class:`~airflow_assemblyai.archive.sinks.Sink` of one bucket, through
``S3Hook``. Small files go in one ``PutObject`` each; the audio is streamed into a multipart upload
by boto3's managed transfer, wrapped in a :class:`~airflow_assemblyai.archive.s3_upload.GuardedUpload`
(create-only, cancellable).
"""

from __future__ import annotations

import io
import logging
from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from airflow_assemblyai.archive.location import archive_uri
from airflow_assemblyai.archive.metadata import (
    META_AUDIO_FORMAT,
    META_RECORD_ROLE,
    META_SHA256,
    META_SOURCE_ETAG,
    META_SOURCE_LENGTH,
    META_SOURCE_MD5,
    META_TRANSCRIPT_ID,
    ArchivedObject,
    lower_keys,
)
from airflow_assemblyai.archive.record import (
    MANIFEST_MAX_BYTES,
    AudioDigest,
    Digest,
    Digesting,
    md5_or_none,
    sha256_hex,
)
from airflow_assemblyai.archive.s3_errors import (
    ConditionalWrite,
    conditional_write_outcome,
    explain_s3_error,
    s3_error_code,
)
from airflow_assemblyai.archive.s3_options import S3Options
from airflow_assemblyai.archive.s3_upload import GuardedUpload
from airflow_assemblyai.archive.sinks import (
    RANGE_BYTES,
    ArchivedAudio,
    AudioUpload,
    RangedReader,
    SourceProbe,
    StoredFile,
    TaskLog,
    read_audio_digest_at,
    record_audio_digest,
)
from airflow_assemblyai.exceptions import AssemblyAIFinalError, AssemblyAITransientError

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

log = logging.getLogger(__name__)

#: Bytes read per step when a stored file is hashed.
_DIGEST_CHUNK = 8 * 1024 * 1024
_MISSING = ("404", "NoSuchKey", "NotFound")


class S3Sink:
    """Write an archive into one S3 bucket through ``S3Hook``, each file once.

    Writes are conditional (``If-None-Match: *``) unless ``replace``: of two tasks racing to one key
    exactly one completes (412 for the other). A store that answers the condition with 501 gets the
    unconditional write after a check, with a warning, for the rest of this sink's life.

    :param hook: the S3 hook (its client, managed-transfer config and ``extra_args``).
    :param bucket: the bucket.
    :param options: what every file carries (encryption, class, ACL, tags, Object Lock, checksum).
    :param log: where to log (the task's logger); this module's when None.
    """

    keeps_metadata = True

    def __init__(
        self,
        *,
        hook: S3Hook,
        bucket: str,
        options: S3Options | None = None,
        log: TaskLog | None = None,
    ) -> None:
        self.hook = hook
        self.log: TaskLog = log or logging.getLogger(__name__)
        self.bucket = bucket
        self.options = options or S3Options()
        #: False once the store answered a conditional write with 501.
        self.conditional = True
        self._upload: GuardedUpload | None = None

    @property
    def client(self) -> Any:
        """Return the hook's boto3 client."""
        return self.hook.get_conn()

    def uri(self, key: str) -> str:
        """Return ``s3://bucket/key``, percent-encoded as the transfer returns it."""
        return archive_uri(self.bucket, key)

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # -- small files ------------------------------------------------------------------------------

    def head(self, key: str) -> dict[str, Any] | None:
        """Return the ``HeadObject`` answer for ``key``, or None when there is no object."""
        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        return head

    def find(self, key: str) -> StoredFile | None:
        """Return the object's size and provider metadata, or None when there is none."""
        head = self.head(key)
        if head is None:
            return None
        metadata = lower_keys(head)
        return StoredFile(
            size=int(head.get("ContentLength") or 0),
            transcript_id=metadata.get(META_TRANSCRIPT_ID) or None,
            role=metadata.get(META_RECORD_ROLE) or None,
            sha256=metadata.get(META_SHA256) or None,
            source_md5=md5_or_none(metadata.get(META_SOURCE_MD5)),
            content_type=head.get("ContentType"),
        )

    def read(self, key: str, *, limit: int = MANIFEST_MAX_BYTES) -> bytes:
        """Return the object's bytes, refusing one larger than ``limit``."""
        answer = self.client.get_object(Bucket=self.bucket, Key=key)
        if int(answer.get("ContentLength") or 0) > limit:
            answer["Body"].close()
            raise AssemblyAIFinalError(
                f"{self.uri(key)} is larger than {limit} bytes: not a record manifest."
            )
        data: bytes = answer["Body"].read()
        return data

    def put(
        self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str], create_only: bool
    ) -> bool:
        """Write ``data`` in one request (S3 shows it whole or not at all), checksummed; False if taken."""
        args = self.options.extra_args(self.hook.extra_args)
        args["Metadata"] = {**args.get("Metadata", {}), **metadata, META_SHA256: sha256_hex(data)}
        args["ContentType"] = content_type
        args.setdefault("ChecksumAlgorithm", "SHA256")
        if create_only:
            args["IfNoneMatch"] = "*"
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **args)
        except ClientError as exc:
            outcome = conditional_write_outcome(exc)
            if outcome is ConditionalWrite.TAKEN:
                return False
            if create_only and outcome is ConditionalWrite.UNSUPPORTED:
                self.log.warning(
                    "The S3 store does not implement conditional writes (If-None-Match): writing %s after a "
                    "check instead; two tasks writing one record at once could overwrite each other.",
                    self.uri(key),
                )
                if self.find(key) is not None:
                    return False
                args.pop("IfNoneMatch")
                self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **args)
                return True
            raise
        return True

    def digest(self, key: str) -> Digest:
        """Return the digest of the object's bytes, streamed."""
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        digesting = Digesting()
        try:
            for chunk in body.iter_chunks(_DIGEST_CHUNK):
                digesting.update(chunk)
        finally:
            body.close()
        return digesting.digest()

    def open_read(self, key: str) -> IO[bytes]:
        """Return the object as a seekable file read with ranged GETs, ``RANGE_BYTES`` at a time."""
        size = int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])

        def fetch(start: int, end: int) -> bytes:
            body = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}")[
                "Body"
            ]
            try:
                data: bytes = body.read()
            finally:
                body.close()
            return data

        return io.BufferedReader(RangedReader(size, fetch), buffer_size=RANGE_BYTES)

    # -- the audio --------------------------------------------------------------------------------

    def audio_there(
        self, key: str, transcript_id: str, *, replace: bool, probe: SourceProbe
    ) -> ArchivedAudio | None:
        """Return ``wrote=False`` when the key holds this transcript's audio (its metadata); None if free.

        :raises AssemblyAIFinalError: the key holds another object and ``replace`` is False.
        """
        head = self.hook.head_object(key, self.bucket)
        if head is None:
            return None
        found = ArchivedObject.from_head(head)
        if replace:
            self.log.info("%s exists; replace=True, so it will be overwritten.", self._where(key))
            return None
        if found.holds(transcript_id):
            self.log.info(
                "%s already holds the redacted audio of transcript %s%s; nothing to copy.",
                self._where(key),
                transcript_id,
                ""
                if found.recorded_length is not None
                else " (recognised by its transcript id: no length was recorded)",
            )
            return ArchivedAudio(wrote=False)
        raise AssemblyAIFinalError(
            f"{self._where(key)} already exists and holds {found.describe(transcript_id)}; it was left "
            "untouched. Set replace=True to overwrite it, or choose another s3_key."
        )

    def prepare(self, key: str) -> None:
        """Abort multipart uploads left unfinished on this exact key (by an attempt that died)."""
        client = self.client
        paginator = client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=key):
            for upload in page.get("Uploads", []):
                if upload.get("Key") == key:
                    client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload["UploadId"])
                    self.log.warning(
                        "Aborted an unfinished multipart upload to %s started %s.",
                        self._where(key),
                        upload.get("Initiated"),
                    )

    def write_audio(
        self, key: str, audio: AudioUpload, *, create_only: bool, on_interrupt: Callable[[], None]
    ) -> str | None:
        """Stream ``audio`` into a multipart upload completed only once verified; None once written.

        A 412 (another writer completed first), a 501 to the condition (the writes go on without it)
        and a concurrent write (409, a vanished upload) return the answer, for another round.
        """
        conditional = create_only and self.conditional
        upload = GuardedUpload(
            client=self.client,
            bucket=self.bucket,
            key=key,
            extra_args=self._audio_args(audio),
            config=self.hook.transfer_config,
            create_only=conditional,
        )
        self._upload = upload
        try:
            upload.run(audio.reader, on_interrupt=on_interrupt)
        except ClientError as exc:
            code, status = s3_error_code(exc)
            last = f"HTTP {status} {code}"
            outcome = conditional_write_outcome(exc)
            if outcome is ConditionalWrite.TAKEN:
                # Another writer completed first: whose object it is decides (the next check).
                self.log.info("Another writer completed %s first; reading it.", self._where(key))
            elif conditional and outcome is ConditionalWrite.UNSUPPORTED:
                self.log.warning(
                    "The S3 store does not implement conditional writes (If-None-Match; %s): copying "
                    "again without them, after checking that the key is free. Two tasks writing one "
                    "key at the same time could now overwrite each other.",
                    last,
                )
                self.conditional = False
            elif outcome is ConditionalWrite.CONFLICT:
                self.log.warning(
                    "S3 answered %s to the write of %s (a concurrent write); trying again.",
                    last,
                    self._where(key),
                )
            else:
                raise
            return last
        finally:
            self._upload = None
        return None

    def _audio_args(self, audio: AudioUpload) -> dict[str, Any]:
        """Return boto3 ``ExtraArgs``: type, metadata, checksum and the S3 options chosen."""
        stream = audio.download
        args = self.options.extra_args(self.hook.extra_args)
        args["ContentType"] = audio.content_type
        args["Metadata"] = {
            **args.get("Metadata", {}),
            META_TRANSCRIPT_ID: audio.transcript_id,
            META_SOURCE_ETAG: stream.etag or "",
            META_SOURCE_LENGTH: "" if stream.length is None else str(stream.length),
            META_AUDIO_FORMAT: audio.audio_format,
            META_RECORD_ROLE: "audio",
        }
        if audio.checked_md5:
            # The upload completes only after the streamed bytes' MD5 matched it.
            args["Metadata"][META_SOURCE_MD5] = audio.checked_md5
        if self.options.checksum_algorithm:
            args["ChecksumAlgorithm"] = self.options.checksum_algorithm
        return args

    def record_digest(self, key: str, transcript_id: str, audio: ArchivedAudio, *, replace: bool) -> None:
        """Record the audio's SHA-256 beside it (``x.wav.digest.json``): what the purge compares when the
        source's ETag was no MD5.

        A copy records what it hashed while streaming. An audio already there (an attempt stopped
        between the two writes) is read back, streamed, checked against the verified MD5 recorded on
        it when there is one, and its digest recorded.
        """
        if audio.wrote and audio.sha256 and audio.size is not None:
            recorded = AudioDigest(transcript_id, audio.size, audio.sha256, audio.source_md5)
        else:
            found = self.find(key)
            if found is None:
                raise AssemblyAITransientError(
                    f"{self._where(key)} vanished before its digest was recorded; retry the task."
                )
            there = read_audio_digest_at(self, key)
            if there is not None and (there.transcript_id, there.size) == (transcript_id, found.size):
                return
            digest = self.digest(key)
            if found.source_md5 is not None and digest.md5 != found.source_md5:
                raise AssemblyAIFinalError(
                    f"{self._where(key)} does not hold the bytes archived from transcript {transcript_id} "
                    "(their MD5 differs from the source's recorded on it); it was left untouched. Archive it "
                    "again with replace=True while the transcript is still at AssemblyAI."
                )
            self.log.info(
                "%s has no digest recorded beside it (an attempt stopped before writing it); "
                "recording the one of its bytes, read back.",
                self._where(key),
            )
            recorded = AudioDigest(transcript_id, digest.size, digest.sha256, found.source_md5)
        record_audio_digest(self, key, recorded, replace=replace)

    def cancel(self) -> None:
        """Send no further upload request and abort the open multipart upload; safe from any thread."""
        upload = self._upload
        if upload is not None:
            upload.cancel()

    def explain(self, exc: BaseException, key: str) -> Exception | None:
        """Return the provider's error for an S3 refusal (naming the permission or bucket); else None."""
        if not isinstance(exc, ClientError):
            return None
        return explain_s3_error(
            exc, bucket=self.bucket, key=key, write_permissions=self.options.write_permissions()
        )
