"""Delete a transcript's data at AssemblyAI once its redacted audio is archived."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_assemblyai.archive.location import as_object_storage_path, parse_archive_uri
from airflow_assemblyai.archive.metadata import META_RECORD_ROLE, ArchivedObject
from airflow_assemblyai.archive.object_store_sink import ObjectStorageRecordStore
from airflow_assemblyai.archive.s3_errors import explain_s3_error
from airflow_assemblyai.archive.s3_sink import S3RecordStore
from airflow_assemblyai.archive.sinks import audio_digest_key, read_audio_digest_at
from airflow_assemblyai.archive.verify import verify_record
from airflow_assemblyai.exceptions import AssemblyAIError, AssemblyAIFinalError
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.ids import validate_transcript_id

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import Context


class AssemblyAIDeleteTranscriptOperator(BaseOperator):
    """Delete a transcript at AssemblyAI, so its PII does not outlive its purpose.

    Given ``archive_uri`` (what the transfer task returned), the archive is checked by the digest of
    its bytes, read back from the store (streamed), before anything is deleted:

    * a record's manifest (``archive_record=True``): it must name this transcript, and every file it
      lists must be there with the size and the SHA-256 it lists;
    * the audio alone in S3: the object must be this transcript's audio (its metadata: transcript
      id, the audio role, the recorded length), and its bytes must match the digests recorded when it
      was archived: the MD5 of AssemblyAI's file (when its ETag was one) and the SHA-256 recorded
      beside it (``x.wav.digest.json``), whichever exist, at least one. When neither exists (an
      attempt stopped between the two writes, and a source ETag that was no MD5) the check fails:
      run the transfer task again, and it records the digest.

    When the check fails nothing is deleted and the task fails without retries, so a transfer marked
    successful by hand can never purge the only copy. An archive in another store (``file://``,
    ``gs://``, ...) keeps no transcript id on its files, so there ``archive_uri`` must be a record's
    manifest. Without ``archive_uri`` the transcript is deleted unchecked.

    Deleting a transcript that is already deleted succeeds (a retried task is harmless); an id
    AssemblyAI never knew fails without retries.

    :param transcript_id: AssemblyAI transcript id (templated).
    :param archive_uri: where the redacted audio was archived, as the transfer task returned it
        (templated; percent-escapes are decoded). None deletes without checking.
    :param aws_conn_id: Airflow connection to AWS, to read the archived object.
    :param assemblyai_conn_id: Airflow connection of type ``assemblyai``.
    :param archive_conn_id: Airflow connection of an archive outside S3 (the ``conn_id`` of its
        ``ObjectStoragePath``); None for ``file://`` or a store that needs none.
    """

    template_fields: Sequence[str] = ("transcript_id", "archive_uri")
    ui_color = "#ffe6e6"

    def __init__(
        self,
        *,
        transcript_id: str,
        archive_uri: str | None = None,
        aws_conn_id: str | None = "aws_default",
        assemblyai_conn_id: str = AssemblyAIHook.default_conn_name,
        archive_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.transcript_id = transcript_id
        self.archive_uri = archive_uri
        self.aws_conn_id = aws_conn_id
        self.assemblyai_conn_id = assemblyai_conn_id
        self.archive_conn_id = archive_conn_id

    @cached_property
    def hook(self) -> AssemblyAIHook:
        """Return the hook of ``assemblyai_conn_id``."""
        return AssemblyAIHook(self.assemblyai_conn_id)

    @cached_property
    def s3_hook(self) -> S3Hook:
        """Return the S3 hook that reads the archived object."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.aws_conn_id)

    def execute(self, context: Context) -> None:
        """Check the archive (when given), then delete the transcript."""
        transcript_id = validate_transcript_id(self.transcript_id)
        if self.archive_uri is not None:
            self._check_archive(transcript_id)
        self.hook.delete_transcript(transcript_id)
        self.log.info("Deleted transcript %s at AssemblyAI", transcript_id)

    def _check_archive(self, transcript_id: str) -> None:
        """Raise unless the archive holds this transcript's redacted audio."""
        from botocore.exceptions import ClientError

        text = str(self.archive_uri).strip()
        if "://" in text and not text.startswith("s3://"):
            self._check_record_elsewhere(transcript_id, text)
            return
        bucket, key = parse_archive_uri(self.archive_uri)
        where = f"s3://{bucket}/{key}"
        try:
            head = self.s3_hook.head_object(key, bucket)
        except ClientError as exc:
            raise explain_s3_error(exc, bucket=bucket, key=key, write_permissions="") from None
        if head is None:
            raise AssemblyAIFinalError(
                f"Transcript {transcript_id} was not deleted: there is no object at {where} (archive_uri), "
                "so its redacted audio may exist only at AssemblyAI. Archive it first."
            )
        if _is_manifest(head):
            store = S3RecordStore(client=self.s3_hook.get_conn(), bucket=bucket, extra_args={})
            try:
                manifest = verify_record(store, key, transcript_id)
            except ClientError as exc:
                raise explain_s3_error(exc, bucket=bucket, key=key, write_permissions="") from None
            except AssemblyAIError as exc:
                raise AssemblyAIFinalError(f"Transcript {transcript_id} was not deleted: {exc}") from None
            self.log.info(
                "%s is the complete record of transcript %s (%s).",
                where,
                transcript_id,
                ", ".join(sorted(manifest.files)),
            )
            return
        found = ArchivedObject.from_head(head)
        if not found.holds(transcript_id):
            raise AssemblyAIFinalError(
                f"Transcript {transcript_id} was not deleted: {where} (archive_uri) holds "
                f"{found.describe(transcript_id)}, not its redacted audio. Archive it first, or point "
                "archive_uri at its archive."
            )
        store = S3RecordStore(client=self.s3_hook.get_conn(), bucket=bucket, extra_args={})
        sidecar = f"s3://{bucket}/{audio_digest_key(key)}"
        try:
            recorded = read_audio_digest_at(store, key)
            if found.source_md5 is None and recorded is None:
                raise AssemblyAIFinalError(
                    f"Transcript {transcript_id} was not deleted: {where} (archive_uri) carries no MD5 of "
                    "AssemblyAI's file (its ETag was a multipart or KMS ETag, or none) and no digest is "
                    f"recorded beside it ({sidecar} is missing: the attempt that archived it was stopped "
                    "before writing it), so nothing shows that its bytes are the redacted audio. Run the "
                    "transfer task again (it records the digest of the audio already there), or archive "
                    "with archive_record=True and pass the manifest URI it returns, or set archive_uri=None "
                    "to delete unchecked."
                )
            digest = store.digest(key)
        except ClientError as exc:
            raise explain_s3_error(exc, bucket=bucket, key=key, write_permissions="") from None
        if found.source_md5 is not None and digest.md5 != found.source_md5:
            raise AssemblyAIFinalError(
                f"Transcript {transcript_id} was not deleted: the MD5 of the archived bytes at {where} "
                f"(archive_uri) is {digest.md5}, not the MD5 of AssemblyAI's file recorded when it was "
                f"archived ({found.source_md5}): the archive was changed or damaged. Archive it again "
                "with replace=True."
            )
        if recorded is not None and (recorded.transcript_id, recorded.size, recorded.sha256) != (
            transcript_id,
            digest.size,
            digest.sha256,
        ):
            raise AssemblyAIFinalError(
                f"Transcript {transcript_id} was not deleted: the SHA-256 of the archived bytes at {where} "
                f"(archive_uri) is {digest.sha256} ({digest.size} bytes), not the one recorded beside it "
                f"when it was archived ({sidecar}: {recorded.sha256}, {recorded.size} bytes of transcript "
                f"{recorded.transcript_id}): the archive was changed or damaged. Archive it again with "
                "replace=True."
            )
        self.log.info(
            "%s holds the audio of transcript %s (%d bytes, %s).",
            where,
            transcript_id,
            digest.size,
            " and ".join(
                shown
                for shown in (
                    f"MD5 {digest.md5} as AssemblyAI's file" if found.source_md5 else "",
                    f"SHA-256 {digest.sha256} as recorded at {sidecar}" if recorded else "",
                )
                if shown
            ),
        )

    def _check_record_elsewhere(self, transcript_id: str, uri: str) -> None:
        """Raise unless ``uri`` is the complete record of this transcript in a store outside S3."""
        as_object_storage_path(uri, field="archive_uri")  # refuses file://host/... naming the fix
        store = ObjectStorageRecordStore(conn_id=self.archive_conn_id)
        if store.find(uri) is None:
            raise AssemblyAIFinalError(
                f"Transcript {transcript_id} was not deleted: there is nothing at {uri} (archive_uri), so "
                "its redacted audio may exist only at AssemblyAI. Archive it first."
            )
        try:
            manifest = verify_record(store, uri, transcript_id)
        except AssemblyAIError as exc:
            raise AssemblyAIFinalError(
                f"Transcript {transcript_id} was not deleted: {exc} Outside S3 the archived files keep no "
                "transcript id, so only a record's manifest shows whose audio they hold: archive with "
                "archive_record=True and pass the manifest URI the transfer returned (or archive_uri=None "
                "to delete unchecked)."
            ) from None
        self.log.info(
            "%s is the complete record of transcript %s (%s).",
            uri,
            transcript_id,
            ", ".join(sorted(manifest.files)),
        )


def _is_manifest(head: dict[str, Any]) -> bool:
    """Return True when a ``HeadObject`` answer is a record manifest the transfer wrote."""
    metadata = {str(k).lower(): str(v) for k, v in (head.get("Metadata") or {}).items()}
    return metadata.get(META_RECORD_ROLE) == "manifest"
