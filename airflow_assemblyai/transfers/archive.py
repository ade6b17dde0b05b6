"""Where an archive lives in S3 and whether an object there is a transcript's redacted audio.

Shared by the transfer (is the key already done, or someone else's?) and the delete operator (is
the archive really there before the only other copy is purged?). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError

#: Object metadata keys (sent as ``x-amz-meta-*``; stores may answer them in any case).
META_TRANSCRIPT_ID = "assemblyai-transcript-id"
META_SOURCE_ETAG = "assemblyai-source-etag"
META_SOURCE_LENGTH = "assemblyai-source-length"
META_AUDIO_FORMAT = "assemblyai-audio-format"
#: The source's MD5 (a plain-MD5 ETag) the bytes were verified against while streaming; absent when
#: the source's ETag was no MD5 (multipart, KMS, none).
META_SOURCE_MD5 = "assemblyai-source-md5"
#: The role of a file in a record: ``audio``, ``transcript``, ``srt``, ``vtt`` or ``manifest``.
META_RECORD_ROLE = "assemblyai-record-role"
_MD5_HEX = frozenset("0123456789abcdef")

#: Characters left as they are in an ``s3://`` URI path; everything else is percent-encoded.
_URI_SAFE = "/!$&'()*+,;=:@"


def split_s3_location(s3_bucket: object, s3_key: object) -> tuple[str, str]:
    """Return ``(bucket, key)`` from the transfer's ``s3_bucket`` and ``s3_key`` fields.

    ``s3_key`` may be a full ``s3://bucket/key``: it is split at the first ``/`` after the bucket
    and the rest is the key, literally (``#``, ``?``, ``%`` and ``//`` are part of it). A key that
    starts with ``/`` keeps it in both spellings: ``s3://b//a.wav`` and ``s3_key="/a.wav"`` both
    name the key ``/a.wav``. Surrounding whitespace is removed.

    :raises AssemblyAIInvalidInputError: naming the field and the fix.
    """
    bucket = str(s3_bucket or "").strip()
    key = str(s3_key or "").strip()
    if not key:
        raise AssemblyAIInvalidInputError("s3_key is empty: pass the object key, or s3://bucket/key.")
    if key.startswith("s3://"):
        url_bucket, slash, key = key[len("s3://") :].partition("/")
        if not url_bucket or not slash or not key:
            raise AssemblyAIInvalidInputError(
                f"s3_key {s3_key!r} names no bucket or no key: write it as s3://bucket/key."
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
    return bucket, key


def archive_uri(bucket: str, key: str) -> str:
    """Return ``s3://bucket/key`` with what a URI cannot carry (``#``, ``?``, ``%``...) percent-encoded."""
    return f"s3://{bucket}/{quote(key, safe=_URI_SAFE)}"


def parse_archive_uri(uri: object, *, field: str = "archive_uri") -> tuple[str, str]:
    """Return ``(bucket, key)`` of a URI made by :func:`archive_uri` (percent-escapes decoded).

    :raises AssemblyAIInvalidInputError: the value is not ``s3://bucket/key``.
    """
    text = str(uri or "").strip()
    bucket, slash, key = text.removeprefix("s3://").partition("/")
    if not text.startswith("s3://") or not bucket or not slash or not key:
        raise AssemblyAIInvalidInputError(
            f"{field} {text[:200]!r} is not s3://bucket/key: pass the URI the transfer task returned "
            "(its XCom)."
        )
    return bucket, unquote(key)


@dataclass(frozen=True)
class ArchivedObject:
    """What an S3 ``HeadObject`` answer says about the redacted audio an object holds."""

    #: The transcript the object was archived from, or None when no such metadata is there.
    transcript_id: str | None
    #: The object's size in bytes.
    size: int | None
    #: The source length recorded at archive time, or None when it was not recorded (0.1.0 wrote
    #: an empty value when the file host announced none).
    recorded_length: int | None
    #: The file's role in a record (``audio``, ``srt``...), or None (an audio archived alone by 0.x).
    role: str | None = None
    #: The source's MD5 the bytes were verified against when archived, or None.
    source_md5: str | None = None

    @classmethod
    def from_head(cls, head: dict[str, Any]) -> ArchivedObject:
        """Read a ``HeadObject`` answer; metadata keys are matched without regard to case."""
        metadata = {str(k).lower(): str(v) for k, v in (head.get("Metadata") or {}).items()}
        recorded = metadata.get(META_SOURCE_LENGTH, "").strip()
        size = head.get("ContentLength")
        role = metadata.get(META_RECORD_ROLE) or None
        source_md5 = metadata.get(META_SOURCE_MD5, "")
        if role is None:
            # Written before the role and the verified MD5 had keys of their own: the source's ETag
            # was recorded, and 32 hex digits there is the MD5 the bytes were verified against.
            source_md5 = metadata.get(META_SOURCE_ETAG, "")
        source_md5 = source_md5.strip().lower()
        return cls(
            transcript_id=metadata.get(META_TRANSCRIPT_ID) or None,
            size=int(size) if isinstance(size, int) else None,
            recorded_length=int(recorded) if recorded.isdigit() else None,
            role=role,
            source_md5=source_md5 if len(source_md5) == 32 and set(source_md5) <= _MD5_HEX else None,
        )

    def holds(self, transcript_id: str) -> bool:
        """Return True when, by its metadata, this is the whole redacted audio of ``transcript_id``.

        The transcript id must match, the object must be the audio (not another file of the record),
        and its size must equal the recorded source length where one was recorded (objects whose
        length was not recorded are recognised by the id alone). This names the object; only a
        digest of its bytes shows them (the delete operator compares one before any purge).
        """
        if self.transcript_id != transcript_id or self.role not in (None, "audio"):
            return False
        return self.recorded_length is None or self.recorded_length == self.size

    def describe(self, transcript_id: str) -> str:
        """Say in a few words what the object holds, compared with ``transcript_id``."""
        if self.transcript_id is None:
            return "an object this provider did not write"
        if self.role not in (None, "audio"):
            return f"the {self.role} file of the record of transcript {self.transcript_id}"
        if self.transcript_id != transcript_id:
            return f"the audio of transcript {self.transcript_id}"
        return (
            f"{self.size} bytes where the audio of transcript {transcript_id} was recorded as "
            f"{self.recorded_length} bytes"
        )
