"""Write a whole redacted record into a store: audio, transcript JSON, subtitles, then the manifest.

The order is the guarantee. Each file is written whole or not at all (one conditional request on S3,
a temporary name then a link on ``file://``); the manifest, written last, is what makes the record
complete. The writer never deletes a file: a failure before the manifest leaves the verified files
it wrote in place, and the re-run recognises them as this transcript's, writes only what is missing,
then the manifest. ``replace=True`` overwrites each file and, last, the manifest: the old manifest is
never removed first. The transcript and subtitles are fetched, and every key beside the audio is
checked, before the audio is downloaded.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from airflow_assemblyai.archive.metadata import META_RECORD_ROLE, META_TRANSCRIPT_ID
from airflow_assemblyai.archive.record import (
    CONTENT_TYPES,
    Manifest,
    RecordFile,
    RecordKeys,
    encode_json,
    manifest_document,
    md5_or_none,
    transcript_document,
)
from airflow_assemblyai.archive.redaction_check import RedactionCheck, check_redaction, not_proven
from airflow_assemblyai.archive.verify import verify_record
from airflow_assemblyai.exceptions import AssemblyAIFinalError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from airflow_assemblyai.archive.redaction_check import RedactionEvidence
    from airflow_assemblyai.archive.sinks import ArchivedAudio, Sink, StoredFile
    from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook

log = logging.getLogger(__name__)

#: Largest small file read back to recognise it on a store without metadata.
_RECOGNISE_LIMIT = 256 * 1024 * 1024


@dataclass
class RecordWriter:
    """Complete one record in ``store``.

    :param store: where the record goes.
    :param keys: the record's keys, derived from the audio's.
    :param transcript_id: the transcript archived.
    :param hook: the AssemblyAI hook (transcript and subtitles).
    :param replace: overwrite files that are not this transcript's, and rewrite a complete record.
    :param subtitle_formats: ``srt``, ``vtt`` or both.
    :param chars_per_caption: the longest subtitle caption; AssemblyAI's default when None.
    :param extra_fields: transcript fields to archive beyond the allow-list (logged as a warning).
    :param redaction_check: how the archived audio is listened to before the manifest is written
        (:mod:`.redaction_check`); a failing range in ``block`` mode raises and writes no manifest.
    """

    store: Sink
    keys: RecordKeys
    transcript_id: str
    hook: AssemblyAIHook
    replace: bool = False
    subtitle_formats: tuple[str, ...] = ("srt", "vtt")
    chars_per_caption: int | None = None
    extra_fields: tuple[str, ...] = ()
    redaction_check: RedactionCheck = field(default_factory=RedactionCheck)

    def complete(self, archive_audio: Callable[[], ArchivedAudio]) -> tuple[Manifest, bool]:
        """Archive what is missing and write the manifest; return it, and whether anything was written.

        :param archive_audio: writes the audio (or finds it there) and says what it did.
        """
        if self.store.find(self.keys.manifest) is not None:
            if not self.replace:
                return self.verified_manifest(), False
            log.info(
                "%s exists; replace=True, so the record is written again and its manifest replaced last.",
                self._uri("manifest"),
            )
        # Everything that can fail without writing comes first: the requests to AssemblyAI for the
        # small files, and the keys beside the audio (a file someone else put there).
        transcript = self.hook.get_transcript(self.transcript_id)
        small = [(role, data) for role, data in self._small_files(transcript) if self._missing(role, data)]
        audio = archive_audio()
        wrote = audio.wrote
        for role, data in small:
            wrote = self._put(role, data) or wrote
        # What is stored is what is proven: the audio is read back from the store and listened to.
        evidence = self._prove_redaction(transcript)
        return self._write_manifest(audio, evidence), wrote

    def verified_manifest(self) -> Manifest:
        """Return the record's manifest after checking every file it lists; raise when it does not hold."""
        return verify_record(self.store, self.keys.manifest, self.transcript_id)

    # -- steps ----------------------------------------------------------------------------------

    def _roles(self) -> list[str]:
        return ["audio", "transcript", *self.subtitle_formats]

    def _prove_redaction(self, transcript: Mapping[str, Any]) -> RedactionEvidence:
        """Listen to the stored audio over the redacted spans; raise in ``block`` mode when one fails."""
        evidence = check_redaction(self.store, self.keys.audio, transcript, self.redaction_check)
        check = evidence.check
        if evidence.passed:
            log.info(
                "Listened to %s: %d redacted range(s), each beeped or silenced (tolerance %d ms).",
                self._uri("audio"),
                check["ranges"],
                check["tolerance_ms"],
            )
            return evidence
        if self.redaction_check.mode == "block":
            raise not_proven(evidence, where=self._uri("audio"), transcript_id=self.transcript_id)
        log.warning(
            "The redacted audio of transcript %s at %s still sounds like speech in: %s. "
            "redaction_check='warn', so the manifest is written with these failing verdicts; the delete "
            "task refuses it unless told allow_unproven_redaction=True.",
            self.transcript_id,
            self._uri("audio"),
            evidence.failures(),
        )
        return evidence

    def _small_files(self, transcript: Mapping[str, Any]) -> list[tuple[str, bytes]]:
        document = transcript_document(
            transcript, archived_at=datetime.now(UTC), extra_fields=self.extra_fields
        )
        files = [("transcript", encode_json(document))]
        for fmt in self.subtitle_formats:
            caption = self.chars_per_caption
            files.append((fmt, self.hook.get_subtitles(self.transcript_id, fmt, chars_per_caption=caption)))
        return files

    def _metadata(self, role: str) -> dict[str, str]:
        return {META_TRANSCRIPT_ID: self.transcript_id, META_RECORD_ROLE: role}

    def _missing(self, role: str, data: bytes) -> bool:
        """Return True when ``role`` must be written; raise when its key holds a file not ours."""
        found = self.store.find(self.keys.of(role))
        if found is None or self.replace:
            return True
        if self._is_ours(self.keys.of(role), found, role, data):
            log.info("%s already holds the %s of transcript %s.", self._uri(role), role, self.transcript_id)
            return False
        raise self._taken(role, found)

    def _put(self, role: str, data: bytes) -> bool:
        """Write one small file; return True when written (False when a concurrent writer's is ours)."""
        key = self.keys.of(role)
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

    def _listed(self, role: str, audio: ArchivedAudio) -> RecordFile:
        key = self.keys.of(role)
        found = self.store.find(key)
        if found is None:
            raise AssemblyAIFinalError(
                f"{self._uri(role)} vanished before the record's manifest was written."
            )
        source_md5 = None
        if role == "audio" and audio.sha256:
            sha256 = audio.sha256
            source_md5 = md5_or_none(audio.source_md5) or found.source_md5
        else:
            # The digest of the bytes stored, read back (streamed): what the purge will compare.
            digest = self.store.digest(key)
            sha256 = digest.sha256
            if role == "audio":
                source_md5 = md5_or_none(audio.source_md5) or found.source_md5
                if source_md5 and digest.md5 != source_md5:
                    raise AssemblyAIFinalError(
                        f"{self._uri(role)} does not hold the bytes archived from transcript "
                        f"{self.transcript_id} (their MD5 differs from the source's); the record was left "
                        "without a manifest. Archive it again with replace=True."
                    )
        content_type = found.content_type or CONTENT_TYPES.get(role, "application/octet-stream")
        return RecordFile(role, key, found.size, content_type, sha256=sha256, source_md5=source_md5)

    def _write_manifest(self, audio: ArchivedAudio, evidence: RedactionEvidence) -> Manifest:
        files = [self._listed(role, audio) for role in self._roles()]
        document = manifest_document(self.transcript_id, files, archived_at=datetime.now(UTC))
        data = encode_json({**document, **evidence.manifest_fields()})
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
            "Wrote %s: the record of transcript %s is complete.", self._uri("manifest"), self.transcript_id
        )
        return Manifest(self.transcript_id, {f.role: f for f in files}, evidence.check)

    def _uri(self, role: str) -> str:
        return self.store.uri(self.keys.of(role))
