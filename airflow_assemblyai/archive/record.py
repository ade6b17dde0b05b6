"""What a redacted record is: its files beside the audio, the allow-listed transcript JSON, the manifest.

A record is the redacted audio plus, under names derived from the audio's, the redacted transcript
as JSON, its SRT and VTT subtitles, and a manifest written last. No store offers a transaction over
several objects, so the manifest is what makes the record complete: it lists every file with its
size and digest, and nothing (the asset event, the purge at AssemblyAI) treats a record as archived
without it. No I/O: the hashing helpers read only what they are handed.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_assemblyai.exceptions import AssemblyAIUnexpectedResponseError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from datetime import datetime
    from typing import Protocol

    class Readable(Protocol):
        """Anything with ``read(size)``."""

        def read(self, size: int = -1, /) -> bytes: ...


log = logging.getLogger(__name__)

#: Keys kept from each entry of ``words`` (and of each utterance's ``words``).
WORD_KEYS = ("text", "start", "end", "confidence", "speaker")
#: Keys kept from each entry of ``utterances``; its ``words`` are filtered by :data:`WORD_KEYS`.
UTTERANCE_KEYS = ("speaker", "text", "start", "end", "confidence", "words")
#: The redaction settings the transcript was made with.
REDACTION_KEYS = (
    "redact_pii",
    "redact_pii_audio",
    "redact_pii_audio_quality",
    "redact_pii_audio_options",
    "redact_pii_policies",
    "redact_pii_sub",
)
#: Every top-level field the archived JSON may hold without the DAG author naming it. AssemblyAI
#: redacts only ``text``, ``words`` and ``utterances``; the rest here are settings and figures.
ALLOWED_FIELDS = ("id", "text", "words", "utterances", "audio_duration", "speech_model_used", *REDACTION_KEYS)
#: Fields the JSON adds of its own.
ARCHIVED_AT = "archived_at"
TRANSCRIPT_SCHEMA = "airflow-assemblyai/transcript/1"
MANIFEST_SCHEMA = "airflow-assemblyai/record/1"
AUDIO_DIGEST_SCHEMA = "airflow-assemblyai/audio-digest/1"
#: Outside S3, the file beside the audio (``x.wav`` gives ``x.wav.digest.json``) in which the attempt
#: that wrote the audio records its SHA-256 and transcript id, so a re-run recognises it by content.
AUDIO_DIGEST_SUFFIX = ".digest.json"
_MD5 = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")

CONTENT_TYPES = {
    "transcript": "application/json",
    "srt": "application/x-subrip",
    "vtt": "text/vtt",
    "manifest": "application/json",
}
_AUDIO_SUFFIXES = (".wav", ".mp3")
#: A manifest larger than this is not one the provider wrote.
MANIFEST_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class RecordKeys:
    """The keys (or paths) of one record's files, all derived from the audio's."""

    audio: str
    transcript: str
    srt: str
    vtt: str
    manifest: str

    @classmethod
    def beside(cls, audio_key: str) -> RecordKeys:
        """Return the keys beside ``audio_key``: ``calls/x.wav`` gives ``calls/x.transcript.json``...

        A ``.wav`` or ``.mp3`` suffix is replaced; any other name keeps its whole self as the stem.
        """
        stem = audio_key
        for suffix in _AUDIO_SUFFIXES:
            if audio_key.lower().endswith(suffix) and len(audio_key) > len(suffix):
                stem = audio_key[: -len(suffix)]
                break
        return cls(
            audio=audio_key,
            transcript=f"{stem}.transcript.json",
            srt=f"{stem}.srt",
            vtt=f"{stem}.vtt",
            manifest=f"{stem}.manifest.json",
        )

    def of(self, role: str) -> str:
        """Return the key of ``role`` (``audio``, ``transcript``, ``srt``, ``vtt`` or ``manifest``)."""
        key: str = getattr(self, role)
        return key


def _pick(entry: object, keys: Sequence[str]) -> dict[str, Any] | None:
    if not isinstance(entry, dict):
        return None
    return {key: entry[key] for key in keys if key in entry}


def _words(value: object) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        return None
    return [word for word in (_pick(item, WORD_KEYS) for item in value) if word is not None]


def _utterances(value: object) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        return None
    kept: list[dict[str, Any]] = []
    for item in value:
        utterance = _pick(item, UTTERANCE_KEYS)
        if utterance is None:
            continue
        if "words" in utterance:
            utterance["words"] = _words(utterance["words"])
        kept.append(utterance)
    return kept


def transcript_document(
    transcript: Mapping[str, Any], *, archived_at: datetime, extra_fields: Iterable[str] = ()
) -> dict[str, Any]:
    """Return the transcript JSON to archive: the allow-listed fields, nested keys filtered too.

    ``words`` and ``utterances`` keep only their text, timestamps, confidence and speaker. A field in
    ``extra_fields`` is copied whole, with a warning: AssemblyAI does not redact it.
    """
    document: dict[str, Any] = {"schema": TRANSCRIPT_SCHEMA}
    for key in ALLOWED_FIELDS:
        if key in transcript:
            document[key] = transcript[key]
    document["words"] = _words(transcript.get("words"))
    document["utterances"] = _utterances(transcript.get("utterances"))
    extras = [name for name in dict.fromkeys(extra_fields) if name not in ALLOWED_FIELDS]
    if extras:
        log.warning(
            "Archiving transcript field(s) %s beyond the redacted allow-list because the DAG names them: "
            "AssemblyAI redacts only text, words and utterances, so these may hold PII or secrets in clear.",
            ", ".join(extras),
        )
    for name in extras:
        if name in transcript:
            document[name] = transcript[name]
    document[ARCHIVED_AT] = archived_at.isoformat()
    return document


def encode_json(document: Mapping[str, Any]) -> bytes:
    """Return ``document`` as UTF-8 JSON, keys in a stable order."""
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8") + b"\n"


def sha256_hex(data: bytes) -> str:
    """Return the SHA-256 of ``data`` in hex."""
    return hashlib.sha256(data).hexdigest()


def md5_or_none(value: object) -> str | None:
    """Return ``value`` when it is an MD5 in hex (32 hex digits), else None (a multipart ETag, say)."""
    text = str(value or "").strip().lower()
    return text if _MD5.fullmatch(text) else None


@dataclass(frozen=True)
class Digest:
    """The SHA-256 and MD5 (hex) and the length of some bytes."""

    sha256: str
    md5: str
    size: int


class Digesting:
    """Hash bytes as they go by: SHA-256 and MD5 in one pass, in bounded memory."""

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._size = 0

    def update(self, chunk: bytes) -> None:
        """Add ``chunk``."""
        self._sha256.update(chunk)
        self._md5.update(chunk)
        self._size += len(chunk)

    def digest(self) -> Digest:
        """Return the digest of every byte added so far."""
        return Digest(self._sha256.hexdigest(), self._md5.hexdigest(), self._size)

    @classmethod
    def of(cls, source: Readable, *, chunk_size: int = 8 * 1024 * 1024) -> Digest:
        """Read ``source`` to its end in chunks; return the digest of its bytes."""
        digesting = cls()
        while chunk := source.read(chunk_size):
            digesting.update(chunk)
        return digesting.digest()


class DigestingReader(io.RawIOBase):
    """Pass ``source``'s bytes through unchanged (exactly as many as it returns), hashing them.

    Read to its end, :attr:`digest` is the digest of exactly the bytes written from it. ``source``
    raising (a failed check in its final read) raises here too.
    """

    def __init__(self, source: Readable) -> None:
        super().__init__()
        self._source = source
        self._digesting = Digesting()
        self._ended = False

    def readable(self) -> bool:
        """Return True."""
        return True

    def seekable(self) -> bool:
        """Return False: the bytes are hashed in order, once."""
        return False

    def read(self, size: int | None = -1) -> bytes:
        """Return what ``source.read(size)`` returns, after hashing it."""
        wanted = -1 if size is None else size
        chunk = self._source.read(wanted)
        self._digesting.update(chunk)
        # The source returns exactly what is asked until its end: fewer bytes (or all) is the end.
        if wanted < 0 or len(chunk) < wanted:
            self._ended = True
        return chunk

    def readall(self) -> bytes:
        """Return every byte left."""
        return self.read(-1)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill ``buffer`` as :meth:`read` would; return the number of bytes."""
        data = self.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    @property
    def digest(self) -> Digest | None:
        """Return the digest once the source was read to its end (None before)."""
        return self._digesting.digest() if self._ended else None


@dataclass(frozen=True)
class AudioDigest:
    """What the attempt that wrote an audio file outside S3 recorded of it, beside it."""

    transcript_id: str
    size: int
    sha256: str
    #: The source's MD5 the bytes were verified against, or None.
    source_md5: str | None = None

    def encode(self) -> bytes:
        """Return the document written beside the audio."""
        document: dict[str, Any] = {
            "schema": AUDIO_DIGEST_SCHEMA,
            "transcript_id": self.transcript_id,
            "size": self.size,
            "sha256": self.sha256,
        }
        if self.source_md5:
            document["source_md5"] = self.source_md5
        return encode_json(document)

    @classmethod
    def parse(cls, data: bytes) -> AudioDigest | None:
        """Read a document :meth:`encode` wrote; None when it is not one."""
        try:
            body = json.loads(data.decode("utf-8"))
            sha256 = str(body["sha256"])
            if body.get("schema") != AUDIO_DIGEST_SCHEMA or not _SHA256.fullmatch(sha256):
                return None
            return cls(
                transcript_id=str(body["transcript_id"]),
                size=int(body["size"]),
                sha256=sha256,
                source_md5=md5_or_none(body.get("source_md5")),
            )
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            return None


@dataclass(frozen=True)
class RecordFile:
    """One file of a record as the manifest lists it."""

    role: str
    key: str
    size: int
    content_type: str
    #: SHA-256 of the bytes in hex; None only in manifests written before every file had one.
    sha256: str | None = None
    #: The source's MD5 (a plain-MD5 ETag) the audio was verified against, or None.
    source_md5: str | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the manifest entry."""
        entry: dict[str, Any] = {"key": self.key, "size": self.size, "content_type": self.content_type}
        if self.sha256:
            entry["sha256"] = self.sha256
        if self.source_md5:
            entry["source_md5"] = self.source_md5
        return entry


def manifest_document(
    transcript_id: str, files: Sequence[RecordFile], *, archived_at: datetime
) -> dict[str, Any]:
    """Return the manifest of a complete record."""
    return {
        "schema": MANIFEST_SCHEMA,
        "transcript_id": transcript_id,
        "archived_at": archived_at.isoformat(),
        "files": {f.role: f.as_json() for f in files},
    }


@dataclass(frozen=True)
class Manifest:
    """A manifest read back from a store."""

    transcript_id: str
    files: dict[str, RecordFile]
    #: The listening check's result (``redaction_check``); None in a manifest without one.
    redaction_check: dict[str, Any] | None = None

    @classmethod
    def parse(cls, data: bytes, *, where: str) -> Manifest:
        """Read a manifest; raise naming ``where`` when it is not one this provider wrote."""
        refused = AssemblyAIUnexpectedResponseError(
            f"{where} is not a record manifest this provider wrote (schema {MANIFEST_SCHEMA})."
        )
        try:
            body = json.loads(data.decode("utf-8"))
            if body.get("schema") != MANIFEST_SCHEMA:
                raise refused
            files = {
                role: RecordFile(
                    role=role,
                    key=str(entry["key"]),
                    size=int(entry["size"]),
                    content_type=str(entry.get("content_type", "")),
                    sha256=entry.get("sha256") or None,
                    source_md5=md5_or_none(entry.get("source_md5")),
                )
                for role, entry in body["files"].items()
            }
            check = body.get("redaction_check")
            return cls(
                transcript_id=str(body["transcript_id"]),
                files=files,
                redaction_check=check if isinstance(check, dict) else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            raise refused from None
