"""Whether an archive holds a transcript's redacted record: read back, digest by digest.

The question the purge at AssemblyAI asks before it deletes the only other copy
(:func:`holds_redacted_record`), and the check a re-run makes of a record already complete
(:func:`verify_record`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from airflow_assemblyai.archive.location import as_object_storage_path, parse_archive_uri
from airflow_assemblyai.archive.metadata import META_RECORD_ROLE, ArchivedObject, lower_keys
from airflow_assemblyai.archive.object_store_sink import ObjectStoreSink
from airflow_assemblyai.archive.record import MANIFEST_MAX_BYTES, Manifest
from airflow_assemblyai.archive.redaction_check import evidence_key, read_evidence_beside
from airflow_assemblyai.archive.s3_errors import explain_s3_error
from airflow_assemblyai.archive.s3_sink import S3Sink
from airflow_assemblyai.archive.sinks import audio_digest_key, read_audio_digest_at
from airflow_assemblyai.exceptions import AssemblyAIError, AssemblyAIFinalError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_assemblyai.archive.record import RecordFile
    from airflow_assemblyai.archive.sinks import Sink, StoredFile


def verify_record(store: Sink, manifest_key: str, transcript_id: str) -> Manifest:
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


def _file_problem(store: Sink, listed: RecordFile, found: StoredFile | None, transcript_id: str) -> str:
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


def redaction_problem(manifest: Manifest, where: str, *, allow_unproven_redaction: bool) -> str:
    """Return why ``manifest`` does not prove its audio redacted (its ``redaction_check``); "" when it does.

    A warn-mode manifest with failing verdicts proves nothing either: warn mode keeps the archive, it
    does not make the evidence's source safe to delete. ``allow_unproven_redaction`` accepts it (and a
    manifest without a check), by the DAG author's explicit choice.
    """
    missing = (
        f"the record {where} carries no redaction_check (it was written before the archived audio "
        "was listened to), so nothing shows that its redacted ranges are beeped or silenced. Archive it "
        "again with replace=True (the transfer listens to it and writes the evidence), or set "
        "allow_unproven_redaction=True to delete anyway."
    )
    return _check_problem(
        manifest.redaction_check,
        f"the record {where}",
        missing,
        allow_unproven_redaction=allow_unproven_redaction,
    )


def audio_redaction_problem(
    store: Sink, key: str, transcript_id: str, sha256: str, *, allow_unproven_redaction: bool
) -> str:
    """Return why the audio alone at ``key`` is not proven redacted; "" when its evidence shows it.

    The evidence beside it (``x.wav.redaction.json``) must name this transcript and these bytes
    (their SHA-256) and pass, unless ``allow_unproven_redaction``.
    """
    if allow_unproven_redaction:
        return ""
    where = store.uri(key)
    evidence = read_evidence_beside(store, key)
    fix = (
        "Run the transfer task again (it listens to the stored audio and records the evidence), or set "
        "allow_unproven_redaction=True to delete anyway."
    )
    if evidence is None:
        return (
            f"{where} has no redaction evidence beside it ({store.uri(evidence_key(key))} is missing: it was "
            "archived before audio-only archives were listened to, or the check failed in block mode), so "
            f"nothing shows that its redacted ranges are beeped or silenced. {fix}"
        )
    bound = (evidence.get("transcript_id"), (evidence.get("audio") or {}).get("sha256"))
    if bound != (transcript_id, sha256):
        return (
            f"the redaction evidence beside {where} ({store.uri(evidence_key(key))}) is for transcript "
            f"{bound[0]} and SHA-256 {bound[1]}, not for the bytes there now (transcript {transcript_id}, "
            f"SHA-256 {sha256}): the audio was replaced after it was listened to. {fix}"
        )
    check = evidence.get("redaction_check")
    return _check_problem(
        check if isinstance(check, dict) else None,
        f"the audio {where}",
        f"the redaction evidence beside {where} carries no redaction_check. {fix}",
        allow_unproven_redaction=False,
    )


def _check_problem(
    check: Mapping[str, Any] | None, what: str, missing: str, *, allow_unproven_redaction: bool
) -> str:
    """Return why a listening check does not prove ``what`` redacted (``missing`` when there is none)."""
    if allow_unproven_redaction:
        return ""
    if check is None:
        return missing
    if check.get("passed") is True:
        return ""
    failing = [
        f"{v.get('start_ms')}-{v.get('end_ms')} ms ({v.get('label')})"
        for v in check.get("verdicts") or []
        if isinstance(v, dict) and v.get("verdict") != "pass"
    ]
    return (
        f"the redaction_check of {what} did not pass (mode {check.get('mode')!r}; failing "
        f"range(s): {', '.join(failing) or 'none listed'}): its audio may still speak PII, and AssemblyAI's "
        "copy is the only other evidence. Listen to those ranges; set allow_unproven_redaction=True to "
        "delete anyway."
    )


@dataclass(frozen=True)
class Verdict:
    """Whether an archive holds a transcript's redacted record, and what shows it (or what is wrong)."""

    holds: bool
    reason: str


def holds_redacted_record(
    uri: str,
    transcript_id: str,
    *,
    s3_hook: Callable[[], S3Hook],
    conn_id: str | None = None,
    field: str = "archive_uri",
    allow_unproven_redaction: bool = False,
) -> Verdict:
    """Return whether the archive at ``uri`` holds the redacted record of ``transcript_id``.

    Every byte is read back (streamed) and compared with a digest recorded when it was archived:

    * a record's manifest (on any store): it must name this transcript, and every file it lists
      must be there with the size and the SHA-256 it lists;
    * the audio alone in S3: the object must be this transcript's audio (its metadata: transcript
      id, the audio role, the recorded length), and its bytes must match the MD5 of AssemblyAI's
      file (when its ETag was one) and the SHA-256 recorded beside it (``x.wav.digest.json``),
      whichever exist, at least one.

    A record's manifest must also carry a passing ``redaction_check`` (the archived audio was
    listened to and every redacted range is a beep or silence), unless ``allow_unproven_redaction``.

    Outside S3 files keep no transcript id, so there ``uri`` must be a record's manifest.

    :param s3_hook: returns the S3 hook that reads an ``s3://`` archive (called only for one).
    :param conn_id: the Airflow connection of an archive outside S3.
    :param field: the argument ``uri`` came from, for messages.
    :raises: the provider's error for an S3 refusal (a missing bucket, a permission to add).
    """
    text = str(uri).strip()
    if "://" in text and not text.startswith("s3://"):
        return _record_elsewhere(
            text, transcript_id, conn_id=conn_id, field=field, allow_unproven=allow_unproven_redaction
        )
    bucket, key = parse_archive_uri(uri, field=field)
    sink = S3Sink(hook=s3_hook(), bucket=bucket)
    try:
        return _s3_archive(sink, key, transcript_id, field=field, allow_unproven=allow_unproven_redaction)
    except ClientError as exc:
        raise explain_s3_error(exc, bucket=bucket, key=key, write_permissions="") from None


def _s3_archive(sink: S3Sink, key: str, transcript_id: str, *, field: str, allow_unproven: bool) -> Verdict:
    where = f"s3://{sink.bucket}/{key}"
    head = sink.hook.head_object(key, sink.bucket)
    if head is None:
        return Verdict(
            False,
            f"there is no object at {where} ({field}), so its redacted audio may exist only at AssemblyAI. "
            "Archive it first.",
        )
    if lower_keys(head).get(META_RECORD_ROLE) == "manifest":
        try:
            manifest = verify_record(sink, key, transcript_id)
        except AssemblyAIError as exc:
            return Verdict(False, str(exc))
        return _record_verdict(manifest, where, transcript_id, allow_unproven)
    found = ArchivedObject.from_head(head)
    if not found.holds(transcript_id):
        return Verdict(
            False,
            f"{where} ({field}) holds {found.describe(transcript_id)}, not its redacted audio. Archive it "
            f"first, or point {field} at its archive.",
        )
    sidecar = f"s3://{sink.bucket}/{audio_digest_key(key)}"
    recorded = read_audio_digest_at(sink, key)
    if found.source_md5 is None and recorded is None:
        return Verdict(
            False,
            f"{where} ({field}) carries no MD5 of AssemblyAI's file (its ETag was a multipart or KMS ETag, "
            f"or none) and no digest is recorded beside it ({sidecar} is missing: the attempt that archived "
            "it was stopped before writing it), so nothing shows that its bytes are the redacted audio. "
            "Run the transfer task again (it records the digest of the audio already there), or archive with "
            f"archive_record=True and pass the manifest URI it returns, or set {field}=None to delete "
            "unchecked.",
        )
    digest = sink.digest(key)
    if found.source_md5 is not None and digest.md5 != found.source_md5:
        return Verdict(
            False,
            f"the MD5 of the archived bytes at {where} ({field}) is {digest.md5}, not the MD5 of "
            f"AssemblyAI's file recorded when it was archived ({found.source_md5}): the archive was changed "
            "or damaged. Archive it again with replace=True.",
        )
    if recorded is not None and (recorded.transcript_id, recorded.size, recorded.sha256) != (
        transcript_id,
        digest.size,
        digest.sha256,
    ):
        return Verdict(
            False,
            f"the SHA-256 of the archived bytes at {where} ({field}) is {digest.sha256} "
            f"({digest.size} bytes), not the one recorded beside it when it was archived "
            f"({sidecar}: {recorded.sha256}, {recorded.size} bytes of transcript {recorded.transcript_id}): "
            "the archive was changed or damaged. Archive it again with replace=True.",
        )
    problem = audio_redaction_problem(
        sink, key, transcript_id, digest.sha256, allow_unproven_redaction=allow_unproven
    )
    if problem:
        return Verdict(False, problem)
    shown = [
        f"MD5 {digest.md5} as AssemblyAI's file" if found.source_md5 else "",
        f"SHA-256 {digest.sha256} as recorded at {sidecar}" if recorded else "",
    ]
    proof = (
        "redaction not checked: allow_unproven_redaction=True"
        if allow_unproven
        else f"redaction evidence at {sink.uri(evidence_key(key))}"
    )
    return Verdict(
        True,
        f"{where} holds the audio of transcript {transcript_id} ({digest.size} bytes, "
        f"{' and '.join(s for s in shown if s)}; {proof}).",
    )


def _record_elsewhere(
    uri: str, transcript_id: str, *, conn_id: str | None, field: str, allow_unproven: bool
) -> Verdict:
    """Return whether ``uri`` is the complete record of this transcript in a store outside S3."""
    as_object_storage_path(uri, field=field)  # refuses file://host/... naming the fix
    sink = ObjectStoreSink(conn_id=conn_id)
    if sink.find(uri) is None:
        return Verdict(
            False,
            f"there is nothing at {uri} ({field}), so its redacted audio may exist only at AssemblyAI. "
            "Archive it first.",
        )
    try:
        manifest = verify_record(sink, uri, transcript_id)
    except AssemblyAIError as exc:
        return Verdict(
            False,
            f"{exc} Outside S3 the archived files keep no transcript id, so only a record's manifest shows "
            f"whose audio they hold: archive with archive_record=True and pass the manifest URI the transfer "
            f"returned (or {field}=None to delete unchecked).",
        )
    return _record_verdict(manifest, uri, transcript_id, allow_unproven)


def _record_verdict(manifest: Manifest, where: str, transcript_id: str, allow_unproven: bool) -> Verdict:
    """Return the verdict on a verified manifest: whole, and its redaction proven (or allowed unproven)."""
    problem = redaction_problem(manifest, where, allow_unproven_redaction=allow_unproven)
    if problem:
        return Verdict(False, problem)
    whole = f"{where} is the complete record of transcript {transcript_id} ({_roles(manifest)})."
    return Verdict(True, whole)


def _roles(manifest: Manifest) -> str:
    return ", ".join(sorted(manifest.files))
