"""The interface every store an archive is written to offers, and the audio's digest recorded beside it.

Two implementations: :mod:`~airflow_assemblyai.archive.s3_sink` (S3, conditional writes) and
:mod:`~airflow_assemblyai.archive.object_store_sink` (any other store behind ``ObjectStoragePath``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from airflow_assemblyai.archive.metadata import DIGEST_ROLE, META_RECORD_ROLE, META_TRANSCRIPT_ID
from airflow_assemblyai.archive.record import AUDIO_DIGEST_SUFFIX, MANIFEST_MAX_BYTES, AudioDigest, Digest
from airflow_assemblyai.exceptions import AssemblyAIFinalError

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
