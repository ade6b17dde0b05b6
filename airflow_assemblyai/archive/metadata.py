"""The metadata the provider writes on each S3 object it archives, and what a ``HeadObject`` answer says.

S3 user-metadata keys come back in whatever case the store chose (``X-Amz-Meta-...``): they are read
through :func:`lower_keys`, the one place that folds them. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
#: The SHA-256 of a small record file's bytes (its role is :data:`META_RECORD_ROLE`).
META_SHA256 = "assemblyai-sha256"
#: The role of the file recording an audio's digest beside it, so it is never taken for the audio.
DIGEST_ROLE = "digest"
_MD5_HEX = frozenset("0123456789abcdef")


def lower_keys(head: dict[str, Any]) -> dict[str, str]:
    """Return the user metadata of a ``HeadObject`` answer with its keys lower-cased."""
    return {str(k).lower(): str(v) for k, v in (head.get("Metadata") or {}).items()}


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
        metadata = lower_keys(head)
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
