"""Whether an archive holds a transcript's redacted record: read back, digest by digest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_assemblyai.archive.record import MANIFEST_MAX_BYTES, Manifest
from airflow_assemblyai.exceptions import AssemblyAIFinalError

if TYPE_CHECKING:
    from airflow_assemblyai.archive.record import RecordFile
    from airflow_assemblyai.archive.sinks import RecordStore, StoredFile


def verify_record(store: RecordStore, manifest_key: str, transcript_id: str) -> Manifest:
    """Read the manifest at ``manifest_key``; check that each file it lists is there, whole, the same bytes.

    Each file is read back (streamed) and its SHA-256 compared with the one the manifest lists.

    :raises AssemblyAIFinalError: the manifest names another transcript or lists no audio, or a file
        is missing, differs in size or digest, or (where the store keeps metadata) belongs to another
        transcript or plays another role.
    """
    where = store.uri(manifest_key)
    manifest = Manifest.parse(store.read(manifest_key, limit=MANIFEST_MAX_BYTES), where=where)
    if manifest.transcript_id != transcript_id:
        raise AssemblyAIFinalError(
            f"{where} is the record of transcript {manifest.transcript_id}, not of {transcript_id}; it was "
            "left untouched. Choose another key, or set replace=True to overwrite it."
        )
    if "audio" not in manifest.files:
        raise AssemblyAIFinalError(f"The record {where} of transcript {transcript_id} lists no audio.")
    for listed in manifest.files.values():
        problem = _file_problem(store, listed, store.find(listed.key), transcript_id)
        if problem:
            raise AssemblyAIFinalError(
                f"The record {where} of transcript {transcript_id} is damaged: "
                f"{store.uri(listed.key)} {problem}. Archive it again with replace=True while the "
                "transcript is still at AssemblyAI."
            )
    return manifest


def _file_problem(
    store: RecordStore, listed: RecordFile, found: StoredFile | None, transcript_id: str
) -> str:
    if found is None:
        return "is missing"
    if found.size != listed.size:
        return f"holds {found.size} bytes where the manifest lists {listed.size}"
    if found.transcript_id is not None and found.transcript_id != transcript_id:
        return f"belongs to transcript {found.transcript_id}"
    if found.role is not None and found.role != listed.role:
        return f"is the {found.role} file of a record, where the manifest lists its {listed.role}"
    if not listed.sha256:
        return (
            "has no SHA-256 in the manifest (written by an earlier version), so its bytes cannot be shown "
            "to be the ones archived"
        )
    if store.digest(listed.key).sha256 != listed.sha256:
        return "holds bytes whose SHA-256 differs from the one the manifest lists"
    return ""
