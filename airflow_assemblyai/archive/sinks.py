"""The interface every store an archive is written to offers, and the audio's digest recorded beside it.

Two implementations: :mod:`~airflow_assemblyai.archive.s3_sink` (S3, conditional writes) and
:mod:`~airflow_assemblyai.archive.object_store_sink` (any other store behind ``ObjectStoragePath``).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

from airflow_assemblyai.archive.audio_format import AUDIO_CONTENT_TYPES
from airflow_assemblyai.archive.metadata import DIGEST_ROLE, META_RECORD_ROLE, META_TRANSCRIPT_ID
from airflow_assemblyai.archive.record import (
    AUDIO_DIGEST_SUFFIX,
    MANIFEST_MAX_BYTES,
    AudioDigest,
    Digest,
    DigestingReader,
)
from airflow_assemblyai.exceptions import AssemblyAIFinalError

if TYPE_CHECKING:
    from airflow_assemblyai.archive.download import ResumableDownload
    from airflow_assemblyai.redaction import AudioFormat

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class ArchivedAudio:
    """What archiving the audio did, and what it learnt of the bytes at the audio's key."""

    #: True when this attempt wrote the audio; False when it was already there.
    wrote: bool
    #: SHA-256 of the stored bytes, when known (computed while streaming, or by recognising them).
    sha256: str | None = None
    #: The source's MD5 the bytes were verified against, when the source's ETag was one.
    source_md5: str | None = None
    #: The number of bytes written, when this attempt wrote them.
    size: int | None = None


@dataclass(frozen=True)
class AudioUpload:
    """The redacted audio on its way into a sink: the bytes, hashed as they pass, and what the source said."""

    transcript_id: str
    #: The download, read through :attr:`reader`; its length and ETag are the file host's.
    download: ResumableDownload
    reader: DigestingReader
    audio_format: AudioFormat
    #: Whether the streamed MD5 is checked against a plain-MD5 ETag before the write completes.
    verify_md5: bool

    @property
    def content_type(self) -> str:
        """Return the Content-Type the file's bytes showed."""
        return AUDIO_CONTENT_TYPES[self.audio_format]

    @property
    def checked_md5(self) -> str | None:
        """Return the source's MD5 the bytes are checked against before the write completes, if any."""
        stream = self.download
        return stream.etag if self.verify_md5 and stream.etag_is_md5 and stream.etag else None

    def result(self) -> ArchivedAudio:
        """Return what a copy read to its end wrote: the SHA-256 of its bytes, the source's MD5."""
        digest = self.reader.digest
        if digest is None:
            raise AssemblyAIFinalError(f"The copy of {self.download.description} ended before its last byte.")
        stream = self.download
        verified = stream.etag if stream.etag_is_md5 and digest.md5 == stream.etag else None
        return ArchivedAudio(wrote=True, sha256=digest.sha256, source_md5=verified, size=digest.size)


class TaskLog(Protocol):
    """A logger: the task's (``BaseOperator.log``) or a module's."""

    def info(self, msg: str, /, *args: Any) -> Any: ...

    def warning(self, msg: str, /, *args: Any) -> Any: ...


#: What the source says of itself, asked only when a file already there may be its copy:
#: ``(length, MD5)``, the MD5 None when its ETag is none.
SourceProbe = Callable[[], tuple[int | None, str | None]]


class Sink(Protocol):
    """A store an archive is written to: the audio, streamed, and the small files of a record.

    Keys are what the store names a file by: an S3 key, or the full URI on other stores.
    """

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

    def open_read(self, key: str) -> IO[bytes]:
        """Return the bytes at ``key`` as a seekable binary file, read on demand (bounded memory).

        The caller closes it.
        """

    def audio_there(
        self, key: str, transcript_id: str, *, replace: bool, probe: SourceProbe
    ) -> ArchivedAudio | None:
        """Return what ``key`` holds when it is this transcript's audio; None when it is to be written.

        :raises AssemblyAIFinalError: the key holds another file and ``replace`` is False.
        """

    def prepare(self, key: str) -> None:
        """Clear what a killed attempt left for ``key``, before the download opens."""

    def write_audio(
        self, key: str, audio: AudioUpload, *, create_only: bool, on_interrupt: Callable[[], None]
    ) -> str | None:
        """Stream ``audio`` to ``key``, visible only once verified; return None once written.

        Otherwise return why the write must be tried again (another writer completed first, the
        store refused the condition, a concurrent write): the caller reads the key again
        (:meth:`audio_there`) before another attempt.
        """

    def record_digest(self, key: str, transcript_id: str, audio: ArchivedAudio, *, replace: bool) -> None:
        """Make sure the audio's SHA-256 is recorded beside it (``x.wav.digest.json``)."""

    def cancel(self) -> None:
        """Stop a write in flight from another thread; safe to call at any time."""

    def explain(self, exc: BaseException, key: str) -> Exception | None:
        """Return the provider's error for a store refusal of a request on ``key``; None when it has none."""


#: Bytes fetched per request when a stored file is read on demand (see :class:`RangedReader`).
RANGE_BYTES = 1024 * 1024


class RangedReader(io.RawIOBase):
    """A seekable, read-only file of ``size`` bytes read on demand with ``fetch(start, end)`` (end exclusive).

    Wrapped in an ``io.BufferedReader`` it reads a stored object one range request at a time: memory
    is bounded by the buffer, whatever the object's size.
    """

    def __init__(self, size: int, fetch: Callable[[int, int], bytes]) -> None:
        super().__init__()
        self._size = size
        self._fetch = fetch
        self._at = 0

    def readable(self) -> bool:
        """Return True."""
        return True

    def seekable(self) -> bool:
        """Return True."""
        return True

    def tell(self) -> int:
        """Return the position."""
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        """Move to ``offset`` from the start, the position or the end; return the new position."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: self._size}[whence]
        self._at = max(0, base + offset)
        return self._at

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill ``buffer`` from the position with one range request; return the number of bytes."""
        end = min(self._size, self._at + len(buffer))
        if end <= self._at:
            return 0
        data = self._fetch(self._at, end)
        memoryview(buffer)[: len(data)] = data
        self._at += len(data)
        return len(data)


def audio_digest_key(audio_key: str) -> str:
    """Return the key of the digest recorded beside ``audio_key``: ``x.wav`` gives ``x.wav.digest.json``."""
    return audio_key + AUDIO_DIGEST_SUFFIX


def read_audio_digest_at(store: Sink, audio_key: str) -> AudioDigest | None:
    """Return the digest recorded beside ``audio_key``; None when there is none (or not one we wrote)."""
    key = audio_digest_key(audio_key)
    found = store.find(key)
    if found is None or found.size > MANIFEST_MAX_BYTES:
        return None
    return AudioDigest.parse(store.read(key, limit=MANIFEST_MAX_BYTES))


def record_audio_digest(store: Sink, audio_key: str, recorded: AudioDigest, *, replace: bool) -> bool:
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
