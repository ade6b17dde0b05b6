"""Delete a transcript's data at AssemblyAI once its redacted audio is archived."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_assemblyai.archive.verify import holds_redacted_record
from airflow_assemblyai.exceptions import AssemblyAIFinalError
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

    Either must also carry a passing ``redaction_check`` (a record in its manifest, the audio alone
    beside it in ``x.wav.redaction.json``, bound to its SHA-256): the transfer listened to the
    archived audio and every redacted range is a beep or silence. A check written in warn mode
    with failing verdicts, or none at all (an earlier version), is refused unless
    ``allow_unproven_redaction=True``: warn mode keeps the archive, it does not make AssemblyAI's copy,
    the only other evidence, safe to delete.

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
    :param allow_unproven_redaction: delete even when the archive's ``redaction_check`` is missing or
        did not pass (the digests are still checked).
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
        allow_unproven_redaction: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.transcript_id = transcript_id
        self.archive_uri = archive_uri
        self.aws_conn_id = aws_conn_id
        self.assemblyai_conn_id = assemblyai_conn_id
        self.archive_conn_id = archive_conn_id
        self.allow_unproven_redaction = allow_unproven_redaction

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
            verdict = holds_redacted_record(
                self.archive_uri,
                transcript_id,
                s3_hook=lambda: self.s3_hook,
                conn_id=self.archive_conn_id,
                allow_unproven_redaction=self.allow_unproven_redaction,
            )
            if not verdict.holds:
                raise AssemblyAIFinalError(f"Transcript {transcript_id} was not deleted: {verdict.reason}")
            self.log.info("%s", verdict.reason)
        self.hook.delete_transcript(transcript_id)
        self.log.info("Deleted transcript %s at AssemblyAI", transcript_id)
