"""Move the redacted audio of a transcript into S3 or any object store: streamed, verified, exactly once."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import Asset, AssetAlias, BaseOperator

from airflow_assemblyai.archive.archiver import Archiver, RecordOptions
from airflow_assemblyai.archive.location import Destination, aws_conn_id_for, resolve_destination
from airflow_assemblyai.archive.object_store_sink import ObjectStoreSink
from airflow_assemblyai.archive.redaction_check import DEFAULT_TOLERANCE_MS, RedactionCheck
from airflow_assemblyai.archive.retention import completion_time, still_held_note
from airflow_assemblyai.archive.s3_options import S3Options
from airflow_assemblyai.archive.s3_sink import S3Sink
from airflow_assemblyai.archive.spans import DEFAULT_GUARD_MS
from airflow_assemblyai.exceptions import (
    AssemblyAIFinalError,
    AssemblyAIInvalidInputError,
    TranscriptNotFoundError,
)
from airflow_assemblyai.hooks.assemblyai import SUBTITLE_FORMATS, AssemblyAIHook
from airflow_assemblyai.ids import validate_transcript_id

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime, timedelta

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context, ObjectStoragePath

    from airflow_assemblyai.archive.sinks import Sink

MiB = 1024 * 1024
#: Managed-transfer settings (``TransferConfig`` arguments plus ``max_in_memory_upload_chunks``);
#: peak memory is about part size x (in-memory chunks + 1).
DEFAULT_TRANSFER_CONFIG: dict[str, Any] = {
    "multipart_threshold": 8 * MiB,
    "multipart_chunksize": 8 * MiB,
    "max_concurrency": 4,
    "max_in_memory_upload_chunks": 4,
    "use_threads": True,
    # The classic s3transfer reads a non-seekable stream part by part (bounded memory).
    "preferred_transfer_client": "classic",
}


class AssemblyAIRedactedAudioToObjectStorageOperator(BaseOperator):
    """Copy the redacted audio of a transcript into S3 or any object store and return its URI.

    Each attempt asks AssemblyAI for a fresh pre-signed URL (masked, never stored) and streams it
    with a plain HTTP client into the store: on S3 a multipart upload through ``S3Hook`` (boto3's
    managed transfer), memory bounded by part size times in-memory chunks, nothing on local disk.
    A cut download resumes with ``Range``; a URL whose credentials expired is replaced. Before the
    file becomes visible the bytes are shown to be the file: a WAV or MP3 header, the total length
    the file host announced, and the MD5 where its ETag is one; on S3 each part carries a checksum
    S3 verifies. Any failure, and ``on_kill``, aborts the write, so the file appears whole or not
    at all. The work is the archive library's (:class:`~airflow_assemblyai.archive.archiver.Archiver`).

    With ``replace=False`` a key that already holds this transcript's audio (metadata written by this
    operator) is a success without any download, even after AssemblyAI dropped the file; any other
    object there fails the task and stays untouched. The write itself is conditional
    (``If-None-Match: *``), so of two tasks racing to one key exactly one completes; stores that
    answer the condition with 501 get the unconditional write after a check, with a warning.
    ``replace=True`` overwrites.

    The key is taken literally (``#``, ``?`` and ``//`` included); the returned URI and the asset
    added to an :class:`~airflow.sdk.AssetAlias` among the outlets percent-encode it.

    :param transcript_id: the AssemblyAI transcript whose redacted audio is copied (templated).
    :param s3_bucket: destination bucket (templated); may be omitted when ``s3_key`` is ``s3://bucket/key``.
    :param s3_key: destination key, or a full ``s3://bucket/key`` (templated).
    :param aws_conn_id: Airflow connection to AWS.
    :param assemblyai_conn_id: Airflow connection to AssemblyAI.
    :param replace: overwrite an object at the key that is not this transcript's audio.
    :param server_side_encryption: ``AES256`` (SSE-S3), ``aws:kms`` or ``aws:kms:dsse`` (SSE-KMS).
    :param sse_kms_key_id: KMS key for SSE-KMS; implies ``aws:kms`` when no mode is given.
    :param storage_class: S3 storage class, e.g. ``STANDARD_IA`` or ``GLACIER_IR``.
    :param acl_policy: canned ACL, e.g. ``bucket-owner-full-control``.
    :param tags: object tags.
    :param checksum_algorithm: per-part checksum S3 verifies (``CRC32``, ``CRC32C``, ``SHA256``...).
    :param transfer_config_args: ``boto3.s3.transfer.TransferConfig`` arguments over the defaults.
    :param max_download_attempts: connection attempts for the download, the first included; the
        backoff between them follows the AssemblyAI connection's ``retry_wait_*`` settings.
    :param download_timeout: seconds to wait on the file host for each network step.
    :param verify_md5: compare an MD5 computed while streaming with a plain-MD5 source ETag.
    :param destination: instead of ``s3_bucket``/``s3_key``, where the audio goes as an
        ``ObjectStoragePath`` or its URI (templated): ``s3://`` takes the S3 path with all its
        guarantees (the path's ``conn_id`` as the AWS connection); any other store (``file://``,
        ``gs://``, ``abfs://``...) is written through Airflow's object-storage layer, streamed in
        bounded memory, visible only once verified; the SHA-256 of the audio and the transcript id
        are recorded beside it (``x.wav.digest.json``), so a re-run recognises it by content. See
        docs/record.md#object-stores.
    :param archive_record: archive the whole redacted record: beside the audio, the transcript as
        JSON (an allow-list of redacted fields), its subtitles and, last, a manifest listing each
        file's size and SHA-256; return the manifest's URI instead of the audio's. A failed attempt
        leaves the files it verified in place and a re-run completes the record. See docs/record.md#record.
    :param subtitle_formats: the subtitles archived with the record (``srt``, ``vtt``).
    :param chars_per_caption: the longest subtitle caption in characters; AssemblyAI's default when None.
    :param include_transcript_fields: transcript fields to archive beyond the allow-list (entities,
        summaries...): AssemblyAI does not redact them, so each run logs a warning.
    :param redaction_check: the archived audio is read back (streamed) and each redacted span of the
        transcript's words is listened to: a beep or silence passes, speech or noise fails. The spans
        and the verdicts go into the record's manifest (``redacted_spans``, ``redaction_check``), or,
        for the audio alone, beside it (``x.wav.redaction.json``). ``"block"`` (default): a failing
        span fails the task without retries
        (:class:`~airflow_assemblyai.exceptions.RedactionNotProvenError`), neither manifest nor
        evidence is written and the files stay; a re-run checks the stored audio again. ``"warn"``:
        the failing verdicts are recorded, with a warning; the delete operator refuses them unless
        told ``allow_unproven_redaction=True`` (templated). See docs/record.md#redaction-evidence.
    :param redaction_guard_ms: milliseconds recorded around each span (``guarded_*``); recorded, not
        checked (templated).
    :param redaction_tolerance_ms: how far (ms) a span's word timings may sit off its beep (templated).
    :param object_lock_mode: S3 Object Lock mode on every file written (``GOVERNANCE`` or ``COMPLIANCE``);
        the bucket must have Object Lock enabled.
    :param object_lock_retain_until: retention end, a ``datetime`` or a ``timedelta`` from the write.
    :param object_lock_legal_hold: put a legal hold on every file written.
    """

    template_fields: Sequence[str] = (
        "transcript_id",
        "s3_bucket",
        "s3_key",
        "destination",
        "redaction_check",
        "redaction_guard_ms",
        "redaction_tolerance_ms",
    )
    ui_color = "#e0e7ff"

    def __init__(
        self,
        *,
        transcript_id: str,
        s3_key: str | None = None,
        s3_bucket: str | None = None,
        aws_conn_id: str | None = "aws_default",
        assemblyai_conn_id: str = AssemblyAIHook.default_conn_name,
        replace: bool = False,
        server_side_encryption: str | None = None,
        sse_kms_key_id: str | None = None,
        storage_class: str | None = None,
        acl_policy: str | None = None,
        tags: dict[str, str] | None = None,
        checksum_algorithm: str | None = "CRC32",
        transfer_config_args: dict[str, Any] | None = None,
        max_download_attempts: int = 5,
        download_timeout: float = 60.0,
        verify_md5: bool = True,
        destination: str | ObjectStoragePath | None = None,
        archive_record: bool = False,
        subtitle_formats: Sequence[str] = SUBTITLE_FORMATS,
        chars_per_caption: int | None = None,
        include_transcript_fields: Sequence[str] = (),
        object_lock_mode: str | None = None,
        object_lock_retain_until: datetime | timedelta | None = None,
        object_lock_legal_hold: bool = False,
        redaction_check: str = "block",
        redaction_guard_ms: int | str = DEFAULT_GUARD_MS,
        redaction_tolerance_ms: int | str = DEFAULT_TOLERANCE_MS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.transcript_id = transcript_id
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.destination = destination
        self.aws_conn_id = aws_conn_id
        self.assemblyai_conn_id = assemblyai_conn_id
        self.replace = replace
        self.server_side_encryption = server_side_encryption
        self.sse_kms_key_id = sse_kms_key_id
        self.storage_class = storage_class
        self.acl_policy = acl_policy
        self.tags = dict(tags or {})
        self.checksum_algorithm = checksum_algorithm
        self.transfer_config_args = {**DEFAULT_TRANSFER_CONFIG, **(transfer_config_args or {})}
        self.max_download_attempts = max_download_attempts
        self.download_timeout = download_timeout
        self.verify_md5 = verify_md5
        self.archive_record = archive_record
        self.subtitle_formats = tuple(subtitle_formats)
        self.chars_per_caption = chars_per_caption
        self.include_transcript_fields = tuple(include_transcript_fields)
        self.object_lock_mode = object_lock_mode
        self.object_lock_retain_until = object_lock_retain_until
        self.object_lock_legal_hold = object_lock_legal_hold
        self.redaction_check = redaction_check
        self.redaction_guard_ms = redaction_guard_ms
        self.redaction_tolerance_ms = redaction_tolerance_ms
        self._check_record_arguments()
        if not _templated(redaction_check, redaction_guard_ms, redaction_tolerance_ms):
            self._redaction_check()
        self.s3_options = S3Options.of(
            server_side_encryption=server_side_encryption,
            sse_kms_key_id=sse_kms_key_id,
            storage_class=storage_class,
            acl_policy=acl_policy,
            tags=self.tags,
            checksum_algorithm=checksum_algorithm,
            object_lock_mode=object_lock_mode,
            object_lock_retain_until=object_lock_retain_until,
            object_lock_legal_hold=object_lock_legal_hold,
        )
        if max_download_attempts < 1:
            raise AssemblyAIInvalidInputError("max_download_attempts must be 1 or more.")
        if download_timeout <= 0:
            raise AssemblyAIInvalidInputError("download_timeout must be a positive number of seconds.")
        self._archiver: Archiver | None = None
        self._kill_requested = False

    @cached_property
    def hook(self) -> AssemblyAIHook:
        """Return the AssemblyAI hook."""
        return AssemblyAIHook(assemblyai_conn_id=self.assemblyai_conn_id)

    @cached_property
    def s3_hook(self) -> S3Hook:
        """Return the S3 hook of the destination's AWS connection; its transfer config streams the upload."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        args = dict(self.transfer_config_args)
        # boto3's TransferConfig takes this s3transfer setting only as an attribute.
        in_memory_chunks = args.pop("max_in_memory_upload_chunks", None)
        hook = S3Hook(
            aws_conn_id=aws_conn_id_for(self.destination, self.aws_conn_id), transfer_config_args=args
        )
        if in_memory_chunks is not None:
            hook.transfer_config.max_in_memory_upload_chunks = int(in_memory_chunks)
        return hook

    def execute(self, context: Context) -> str:
        """Stream the redacted audio into the store (or find it there already); return its URI.

        With ``archive_record`` the record's manifest URI is returned instead.
        """
        transcript_id = validate_transcript_id(self.transcript_id)
        target = self._destination()
        record = self._record_options()
        try:
            archived = self._new_archiver(target).archive(
                transcript_id, target.key, record=record, redaction_check=self._redaction_check()
            )
        except Exception as exc:
            # AssemblyAI holding no such transcript (an unknown id, one already purged) holds no PII.
            final = isinstance(exc, AssemblyAIFinalError) or _is_last_try(context)
            if final and not isinstance(exc, TranscriptNotFoundError):
                self._say_what_is_still_held(exc, transcript_id)
            raise
        self._add_to_asset_aliases(context, *archived.asset_uris)
        return archived.uri

    def _say_what_is_still_held(self, exc: Exception, transcript_id: str) -> None:
        """End a final failure's message: the transcript held at AssemblyAI, its time left, what to re-run."""
        try:
            completed = completion_time(self.hook, transcript_id)
        except Exception:  # the cause may be the API itself (a revoked key): say what is known
            completed = None
        note = still_held_note(transcript_id, completed=completed, task_id=self.task_id)
        self.log.error("%s", note)
        if exc.args and isinstance(exc.args[0], str):
            exc.args = (f"{exc.args[0]} {note}", *exc.args[1:])

    def on_kill(self) -> None:
        """Stop a running copy: shut the download's connection and abort the multipart upload.

        Airflow calls this on SIGTERM (from the signal handler) and after an execution timeout,
        and sends SIGKILL a few seconds later; nothing here waits for the reading thread.
        """
        self._kill_requested = True
        if self._archiver is not None:
            self._archiver.stop()

    # -- arguments ---------------------------------------------------------------------------------

    def _destination(self) -> Destination:
        """Return where the archive goes, from the (rendered) fields; refuse S3 options elsewhere."""
        target = resolve_destination(
            s3_bucket=self.s3_bucket,
            s3_key=self.s3_key,
            destination=self.destination,
            aws_conn_id=self.aws_conn_id,
        )
        if target.path is not None and self.s3_options.uses_object_lock:
            raise AssemblyAIInvalidInputError(
                f"object_lock_* options need an S3 destination; {target.protocol}:// has no S3 Object Lock."
            )
        return target

    def _new_archiver(self, target: Destination) -> Archiver:
        """Return the archiver of this attempt (stopped at once when a kill came first)."""
        self._archiver = Archiver(
            hook=self.hook,
            sink=self._sink(target),
            replace=self.replace,
            max_download_attempts=self.max_download_attempts,
            download_timeout=self.download_timeout,
            verify_md5=self.verify_md5,
            log=self.log,
        )
        if self._kill_requested:
            self._archiver.stop()
        return self._archiver

    def _sink(self, target: Destination) -> Sink:
        if target.path is None:
            return S3Sink(hook=self.s3_hook, bucket=str(target.bucket), options=self.s3_options, log=self.log)
        return ObjectStoreSink(conn_id=target.path.conn_id, destination=target.path, log=self.log)

    def _record_options(self) -> RecordOptions | None:
        if not self.archive_record:
            return None
        return RecordOptions(self.subtitle_formats, self.chars_per_caption, self.include_transcript_fields)

    def _redaction_check(self) -> RedactionCheck:
        """Return the listening check of the (rendered) ``redaction_*`` arguments; refuse a wrong one."""
        return RedactionCheck.of(
            mode=self.redaction_check,
            guard_ms=_whole_ms(self.redaction_guard_ms),
            tolerance_ms=_whole_ms(self.redaction_tolerance_ms),
        )

    def _check_record_arguments(self) -> None:
        unknown = [fmt for fmt in self.subtitle_formats if fmt not in SUBTITLE_FORMATS]
        if unknown:
            raise AssemblyAIInvalidInputError(
                f"subtitle_formats holds {unknown!r}: AssemblyAI exports 'srt' and 'vtt' only."
            )
        if self.chars_per_caption is not None and (
            isinstance(self.chars_per_caption, bool)
            or not isinstance(self.chars_per_caption, int)
            or self.chars_per_caption < 1
        ):
            raise AssemblyAIInvalidInputError(
                f"chars_per_caption must be a positive whole number, got {self.chars_per_caption!r}."
            )

    # -- assets and lineage ------------------------------------------------------------------------

    def _add_to_asset_aliases(self, context: Context, *uris: str) -> None:
        """Attach the concrete assets (the audio's, the manifest's) to every asset alias among the outlets."""
        aliases = [outlet for outlet in self.outlets if isinstance(outlet, AssetAlias)]
        if not aliases:
            return
        events = context["outlet_events"]
        for alias in aliases:
            for uri in uris:
                events[alias].add(Asset(uri))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any]:
        """Describe the transcript as input and the stored file as output (never the URL)."""
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        transcript_id = validate_transcript_id(self.transcript_id)
        source = Dataset(namespace=self._lineage_namespace(), name=f"v2/transcript/{transcript_id}")
        where = self._destination()
        if where.path is None:
            target = Dataset(namespace=f"s3://{where.bucket}", name=where.key)
        else:
            target = Dataset(namespace=f"{where.protocol}://", name=str(where.path.path))
        return OperatorLineage(inputs=[source], outputs=[target])

    def _lineage_namespace(self) -> str:
        """Return the API's scheme, host and port: never a user or password written into the Host."""
        try:
            parts = urlsplit(self.hook.base_url)
            port = f":{parts.port}" if parts.port else ""
        except Exception:
            return "https://api.assemblyai.com"
        return f"{parts.scheme}://{parts.hostname or ''}{port}"


def _templated(*values: object) -> bool:
    """Return True when a value is a Jinja template still to be rendered (checked at run time then)."""
    return any(isinstance(v, str) and "{{" in v for v in values)


def _whole_ms(value: object) -> object:
    """Return a rendered template's digits as an int (``"300"`` gives 300); anything else unchanged."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _is_last_try(context: Context) -> bool:
    """Return True when Airflow will not retry this task after a failure."""
    ti = context.get("ti")
    try_number, max_tries = getattr(ti, "try_number", None), getattr(ti, "max_tries", None)
    if not isinstance(try_number, int) or not isinstance(max_tries, int):
        return True
    return try_number > max_tries
