"""Where a record's small files go: S3 with conditional writes, or any store through ``ObjectStoragePath``.

Both stores answer the same few questions for the record (what is at a key, write these bytes unless
the key is taken, read a manifest, remove a file). The redacted audio, which is streamed, takes its
own paths (:mod:`~airflow_assemblyai.transfers.redacted_audio_to_s3` for S3,
:mod:`~airflow_assemblyai.transfers.object_storage` for the rest).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from airflow_assemblyai.exceptions import AssemblyAIFinalError
from airflow_assemblyai.transfers.archive import (
    META_RECORD_ROLE,
    META_SOURCE_MD5,
    META_TRANSCRIPT_ID,
    archive_uri,
)
from airflow_assemblyai.transfers.record import (
    AUDIO_DIGEST_SUFFIX,
    MANIFEST_MAX_BYTES,
    AudioDigest,
    Digest,
    Digesting,
    md5_or_none,
    sha256_hex,
)

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

__all__ = [
    "DIGEST_ROLE",
    "META_RECORD_ROLE",
    "META_SHA256",
    "RecordStore",
    "S3RecordStore",
    "StoredFile",
    "read_audio_digest_at",
    "record_audio_digest",
]

#: Metadata holding the SHA-256 of a small record file's bytes (the role is :data:`META_RECORD_ROLE`).
META_SHA256 = "assemblyai-sha256"
#: The role (:data:`META_RECORD_ROLE`) of the file recording an audio's digest beside it, so it is
#: never taken for the audio.
DIGEST_ROLE = "digest"
#: Bytes read per step when a stored file is hashed.
_DIGEST_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    """What a store says about the object at a key."""

    size: int
    #: The transcript id in the object's metadata; None where the store keeps no metadata.
    transcript_id: str | None
    role: str | None = None
    sha256: str | None = None
    source_md5: str | None = None
    content_type: str | None = None


class RecordStore(Protocol):
    """The operations a record needs from a store."""

    #: Whether the store keeps user metadata (the transcript id) on each object.
    keeps_metadata: bool

    def uri(self, key: str) -> str:
        """Return the URI of ``key``."""

    def find(self, key: str) -> StoredFile | None:
        """Return what is at ``key``, or None."""

    def read(self, key: str, *, limit: int) -> bytes:
        """Return the bytes at ``key``; raise when there are more than ``limit``."""

    def put(
        self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str], create_only: bool
    ) -> bool:
        """Write ``data`` whole or not at all; return False when ``create_only`` found the key taken."""

    def digest(self, key: str) -> Digest:
        """Return the digest of the bytes at ``key``, read back in bounded memory."""


class S3RecordStore:
    """Keep small record files in one S3 bucket: one ``PutObject`` each, ``If-None-Match: *`` if create-only.

    :param client: a boto3 S3 client.
    :param bucket: the bucket.
    :param extra_args: ``PutObject`` arguments every file carries (encryption, storage class, ACL,
        tags, Object Lock, checksum), in boto3's names.
    """

    keeps_metadata = True

    def __init__(self, *, client: Any, bucket: str, extra_args: dict[str, Any]) -> None:
        self.client = client
        self.bucket = bucket
        self.extra_args = extra_args

    def uri(self, key: str) -> str:
        """Return ``s3://bucket/key``, percent-encoded as the transfer returns it."""
        return archive_uri(self.bucket, key)

    def find(self, key: str) -> StoredFile | None:
        """Return the object's size and provider metadata, or None when there is none."""
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        metadata = {str(k).lower(): str(v) for k, v in (head.get("Metadata") or {}).items()}
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
        from botocore.exceptions import ClientError

        from airflow_assemblyai.transfers.s3_upload import s3_error_code

        args = dict(self.extra_args)
        args["Metadata"] = {**args.get("Metadata", {}), **metadata, META_SHA256: sha256_hex(data)}
        args["ContentType"] = content_type
        args.setdefault("ChecksumAlgorithm", "SHA256")
        if create_only:
            args["IfNoneMatch"] = "*"
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **args)
        except ClientError as exc:
            code, status = s3_error_code(exc)
            if status == 412 or code == "PreconditionFailed":
                return False
            if create_only and (status == 501 or code == "NotImplemented"):
                log.warning(
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


def audio_digest_key(audio_key: str) -> str:
    """Return the key of the digest recorded beside ``audio_key``: ``x.wav`` gives ``x.wav.digest.json``."""
    return audio_key + AUDIO_DIGEST_SUFFIX


def read_audio_digest_at(store: RecordStore, audio_key: str) -> AudioDigest | None:
    """Return the digest recorded beside ``audio_key``; None when there is none (or not one we wrote)."""
    key = audio_digest_key(audio_key)
    found = store.find(key)
    if found is None or found.size > MANIFEST_MAX_BYTES:
        return None
    return AudioDigest.parse(store.read(key, limit=MANIFEST_MAX_BYTES))


def record_audio_digest(store: RecordStore, audio_key: str, recorded: AudioDigest, *, replace: bool) -> bool:
    """Write ``recorded`` beside ``audio_key`` (create-only unless ``replace``); False when already there.

    The same format as outside S3 (``x.wav.digest.json``); on S3 it carries the transcript id and the
    role ``digest``.

    :raises AssemblyAIFinalError: the key holds something else (another digest, a foreign file).
    """
    key = audio_digest_key(audio_key)
    metadata = {META_TRANSCRIPT_ID: recorded.transcript_id, META_RECORD_ROLE: DIGEST_ROLE}
    data = recorded.encode()
    if store.put(key, data, content_type="application/json", metadata=metadata, create_only=not replace):
        log.info("Recorded the SHA-256 of %s beside it, at %s.", store.uri(audio_key), store.uri(key))
        return True
    there = read_audio_digest_at(store, audio_key)
    if there is not None and (there.transcript_id, there.size, there.sha256) == (
        recorded.transcript_id,
        recorded.size,
        recorded.sha256,
    ):
        return False
    raise AssemblyAIFinalError(
        f"{store.uri(key)} already exists and does not record the bytes at {store.uri(audio_key)} (the "
        f"redacted audio of transcript {recorded.transcript_id}); it was left untouched. Delete it (the "
        "transfer records the digest again) or set replace=True."
    )


def object_storage_uri(path: ObjectStoragePath) -> str:
    """Return the URI of ``path`` (``file:///...``, ``memory://...``)."""
    return str(path)
