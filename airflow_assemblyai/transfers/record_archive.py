"""Write a whole redacted record into a store: audio, transcript JSON, subtitles, then the manifest.

The order is the guarantee. Each file is written whole or not at all (one conditional request on S3,
a temporary name then a link on ``file://``); the manifest, written last and create-only, is what
makes the record complete. A failure before the manifest removes the files this attempt wrote; a
killed attempt (no code runs after SIGKILL) leaves files but no manifest, and the re-run recognises
those files as this transcript's, writes only what is missing, then the manifest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_assemblyai.exceptions import AssemblyAIFinalError
from airflow_assemblyai.transfers.record import (
    CONTENT_TYPES,
    MANIFEST_MAX_BYTES,
    Manifest,
    RecordFile,
    RecordKeys,
    encode_json,
    manifest_document,
    sha256_hex,
    transcript_document,
)
from airflow_assemblyai.transfers.stores import META_RECORD_ROLE, RecordStore, StoredFile

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook

log = logging.getLogger(__name__)

#: Largest small file read back to recognise it on a store without metadata.
_RECOGNISE_LIMIT = 256 * 1024 * 1024


@dataclass
class RecordArchiver:
    """Complete one record in ``store``.

    :param store: where the record goes.
    :param keys: the record's keys, derived from the audio's.
    :param transcript_id: the transcript archived.
    :param hook: the AssemblyAI hook (transcript and subtitles).
    :param replace: overwrite files that are not this transcript's, and rewrite a complete record.
    :param subtitle_formats: ``srt``, ``vtt`` or both.
    :param chars_per_caption: the longest subtitle caption; AssemblyAI's default when None.
    :param extra_fields: transcript fields to archive beyond the allow-list (logged as a warning).
    :param metadata: metadata every file carries besides its role (the transcript id).
    """

    store: RecordStore
    keys: RecordKeys
    transcript_id: str
    hook: AssemblyAIHook
    replace: bool = False
    subtitle_formats: tuple[str, ...] = ("srt", "vtt")
    chars_per_caption: int | None = None
    extra_fields: tuple[str, ...] = ()
    metadata: dict[str, str] | None = None

    def complete(self, archive_audio: Callable[[], bool]) -> tuple[Manifest, bool]:
        """Archive what is missing and write the manifest; return it, and whether anything was written.

        :param archive_audio: writes the audio (or finds it there) and returns True when it wrote.
        """
        existing = self.store.find(self.keys.manifest)
        if existing is not None:
            if not self.replace:
                return self.verified_manifest(), False
            log.info("%s exists; replace=True, so the record is written again.", self._uri("manifest"))
            self.store.delete(self.keys.manifest)
        written: list[str] = []
        try:
            if archive_audio():
                written.append(self.keys.audio)
            for role, data in self._small_files():
                if self._put(role, data):
                    written.append(self.keys.of(role))
            manifest = self._write_manifest(written)
        except Exception:
            self._remove(written)
            raise
        return manifest, True

    def verified_manifest(self) -> Manifest:
        """Return the record's manifest after checking every file it lists; raise when it does not hold."""
        return verify_record(self.store, self.keys.manifest, self.transcript_id)

    # -- steps ----------------------------------------------------------------------------------

    def _roles(self) -> list[str]:
        return ["audio", "transcript", *self.subtitle_formats]

    def _small_files(self) -> Iterable[tuple[str, bytes]]:
        transcript = self.hook.get_transcript(self.transcript_id)
        document = transcript_document(
            transcript, archived_at=datetime.now(UTC), extra_fields=self.extra_fields
        )
        yield "transcript", encode_json(document)
        for fmt in self.subtitle_formats:
            yield (
                fmt,
                self.hook.get_subtitles(self.transcript_id, fmt, chars_per_caption=self.chars_per_caption),
            )

    def _metadata(self, role: str) -> dict[str, str]:
        from airflow_assemblyai.transfers.archive import META_TRANSCRIPT_ID

        return {**(self.metadata or {}), META_TRANSCRIPT_ID: self.transcript_id, META_RECORD_ROLE: role}

    def _put(self, role: str, data: bytes) -> bool:
        """Write one small file unless it already holds this transcript's; return True when written."""
        key = self.keys.of(role)
        found = self.store.find(key)
        if found is not None and not self.replace:
            if self._is_ours(key, found, role, data):
                log.info(
                    "%s already holds the %s of transcript %s.", self._uri(role), role, self.transcript_id
                )
                return False
            raise self._taken(role, found)
        if not self.store.put(
            key,
            data,
            content_type=CONTENT_TYPES[role],
            metadata=self._metadata(role),
            create_only=not self.replace,
        ):
            found = self.store.find(key)
            if found is not None and self._is_ours(key, found, role, data):
                return False
            raise self._taken(role, found)
        log.info("Wrote %s (%d bytes).", self._uri(role), len(data))
        return True

    def _is_ours(self, key: str, found: StoredFile, role: str, data: bytes) -> bool:
        if self.store.keeps_metadata:
            return found.transcript_id == self.transcript_id and found.role in (None, role)
        # No metadata: recognise by content (the JSON's id; the subtitles' exact bytes).
        if found.size > _RECOGNISE_LIMIT:
            return False
        stored = self.store.read(key, limit=_RECOGNISE_LIMIT)
        if role == "transcript":
            import json

            try:
                return bool(json.loads(stored).get("id") == self.transcript_id)
            except (ValueError, AttributeError):
                return False
        return stored == data

    def _taken(self, role: str, found: StoredFile | None) -> AssemblyAIFinalError:
        holder = "an object this provider did not write"
        if found is not None and found.transcript_id and found.transcript_id != self.transcript_id:
            holder = f"the {found.role or 'record file'} of transcript {found.transcript_id}"
        return AssemblyAIFinalError(
            f"{self._uri(role)} already exists and holds {holder}; it was left untouched and the record is "
            "incomplete (no manifest). Set replace=True to overwrite it, or choose another key."
        )

    def _listed(self, role: str) -> RecordFile:
        key = self.keys.of(role)
        found = self.store.find(key)
        if found is None:
            raise AssemblyAIFinalError(
                f"{self._uri(role)} vanished before the record's manifest was written."
            )
        sha256 = found.sha256
        if sha256 is None and role != "audio":
            sha256 = sha256_hex(self.store.read(key, limit=_RECOGNISE_LIMIT))
        content_type = found.content_type or CONTENT_TYPES.get(role, "application/octet-stream")
        return RecordFile(role, key, found.size, content_type, sha256=sha256, source_md5=found.source_md5)

    def _write_manifest(self, written: list[str]) -> Manifest:
        files = [self._listed(role) for role in self._roles()]
        data = encode_json(manifest_document(self.transcript_id, files, archived_at=datetime.now(UTC)))
        if not self.store.put(
            self.keys.manifest,
            data,
            content_type=CONTENT_TYPES["manifest"],
            metadata=self._metadata("manifest"),
            create_only=not self.replace,
        ):
            # Another task completed this record first; it counts if it is this transcript's.
            return self.verified_manifest()
        log.info(
            "Wrote %s: the record of transcript %s is complete (%d file(s) written by this attempt).",
            self._uri("manifest"),
            self.transcript_id,
            len(written),
        )
        return Manifest(self.transcript_id, {f.role: f for f in files})

    def _remove(self, written: list[str]) -> None:
        for key in reversed(written):
            try:
                self.store.delete(key)
            except Exception as exc:
                log.warning(
                    "Could not remove %s after the failure (%s).", self.store.uri(key), type(exc).__name__
                )
            else:
                log.warning("Removed %s: the record was not completed.", self.store.uri(key))

    def _uri(self, role: str) -> str:
        return self.store.uri(self.keys.of(role))


def verify_record(store: RecordStore, manifest_key: str, transcript_id: str) -> Manifest:
    """Read the manifest at ``manifest_key`` and check that each file it lists is there, whole.

    :raises AssemblyAIFinalError: the manifest names another transcript, or a file is missing or
        differs in size (or in transcript id, where the store keeps metadata).
    """
    where = store.uri(manifest_key)
    manifest = Manifest.parse(store.read(manifest_key, limit=MANIFEST_MAX_BYTES), where=where)
    if manifest.transcript_id != transcript_id:
        raise AssemblyAIFinalError(
            f"{where} is the record of transcript {manifest.transcript_id}, not of {transcript_id}; it was "
            "left untouched. Choose another key, or set replace=True to overwrite it."
        )
    for listed in manifest.files.values():
        found = store.find(listed.key)
        problem = _file_problem(listed, found, transcript_id)
        if problem:
            raise AssemblyAIFinalError(
                f"The record {where} of transcript {transcript_id} is damaged: "
                f"{store.uri(listed.key)} {problem}."
            )
    return manifest


def _file_problem(listed: RecordFile, found: StoredFile | None, transcript_id: str) -> str:
    if found is None:
        return "is missing"
    if found.size != listed.size:
        return f"holds {found.size} bytes where the manifest lists {listed.size}"
    if found.transcript_id is not None and found.transcript_id != transcript_id:
        return f"belongs to transcript {found.transcript_id}"
    return ""


def describe_files(manifest: Manifest) -> dict[str, Any]:
    """Return ``{role: key}`` of a manifest, for logs."""
    return {role: f.key for role, f in manifest.files.items()}
