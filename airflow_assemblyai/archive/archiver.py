"""Archive one transcript's redacted audio (or whole record) into a sink: streamed, verified, exactly once.

Each download asks AssemblyAI for a fresh pre-signed URL (masked, never stored) and streams it
with a plain HTTP client into the sink, which makes the file visible only once every byte was read
and verified (:mod:`~airflow_assemblyai.archive.download`). One loop settles what a key already
holds and the races between writers, whatever the store: a key holding this transcript's audio is a
success without a copy, any other file fails the task untouched unless ``replace``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from airflow_assemblyai.archive.audio_format import HEADER_BYTES, check_audio_header
from airflow_assemblyai.archive.download import ResumableDownload
from airflow_assemblyai.archive.record import DigestingReader, RecordKeys
from airflow_assemblyai.archive.record_writer import RecordWriter
from airflow_assemblyai.archive.redaction_check import (
    RedactionCheck,
    check_redaction,
    evidence_key,
    not_proven,
    record_evidence_beside,
)
from airflow_assemblyai.archive.sinks import ArchivedAudio, AudioUpload, read_audio_digest_at
from airflow_assemblyai.archive.verify import audio_redaction_problem
from airflow_assemblyai.exceptions import AssemblyAIError, AssemblyAIRequestError, AssemblyAITransientError
from airflow_assemblyai.masking import mask_redirect_location
from airflow_assemblyai.redaction import judge_transcript

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_assemblyai.archive.sinks import Sink, TaskLog
    from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
    from airflow_assemblyai.redaction import AudioFormat

log = logging.getLogger(__name__)

#: How long AssemblyAI keeps a redacted audio file, and how early the archiver warns before that.
RETENTION = timedelta(hours=24)
RETENTION_WARNING = timedelta(hours=2)
#: Copies tried per task attempt when a concurrent write gets in the way (412, 409, a vanished upload).
WRITE_ROUNDS = 3


@dataclass(frozen=True)
class RecordOptions:
    """What a record holds beside the audio (see :class:`.record_writer.RecordWriter`)."""

    subtitle_formats: tuple[str, ...] = ("srt", "vtt")
    chars_per_caption: int | None = None
    include_transcript_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Archived:
    """Where an archive is: the URI the task returns, and every URI to announce as an asset."""

    uri: str
    asset_uris: tuple[str, ...]


class Archiver:
    """Archive the redacted audio of transcripts into one sink.

    :param hook: the AssemblyAI hook (fresh URLs, the transcript, subtitles; its retry waits).
    :param sink: where the archive goes.
    :param replace: overwrite a file at the key that is not this transcript's.
    :param max_download_attempts: connection attempts for the download, the first included.
    :param download_timeout: seconds to wait on the file host for each network step.
    :param verify_md5: compare an MD5 computed while streaming with a plain-MD5 source ETag.
    :param log: where to log (the task's logger); this module's when None.
    """

    def __init__(
        self,
        *,
        hook: AssemblyAIHook,
        sink: Sink,
        replace: bool = False,
        max_download_attempts: int = 5,
        download_timeout: float = 60.0,
        verify_md5: bool = True,
        log: TaskLog | None = None,
    ) -> None:
        self.hook = hook
        self.log: TaskLog = log or logging.getLogger(__name__)
        self.sink = sink
        self.replace = replace
        self.max_download_attempts = max_download_attempts
        self.download_timeout = download_timeout
        self.verify_md5 = verify_md5
        self._stopped = threading.Event()
        self._stream: ResumableDownload | None = None

    # -- the one call ------------------------------------------------------------------------------

    def archive(
        self,
        transcript_id: str,
        key: str,
        *,
        record: RecordOptions | None = None,
        redaction_check: RedactionCheck | None = None,
    ) -> Archived:
        """Archive the audio at ``key`` (and, with ``record``, the record beside it); say where it is.

        The stored audio is listened to over the redacted spans (``redaction_check``, block mode when
        None): a record's manifest carries the evidence, an audio alone keeps it beside it
        (``x.wav.redaction.json``). In block mode a range that still sounds like speech raises
        :class:`~airflow_assemblyai.exceptions.RedactionNotProvenError` and that evidence is not written.

        :raises: the sink's explanation of a store refusal (a missing bucket, a permission to add).
        """
        check = redaction_check or RedactionCheck()
        try:
            if record is None:
                audio = self.archive_audio(transcript_id, key)
                self.sink.record_digest(key, transcript_id, audio, replace=self.replace)
                self._prove_audio_redacted(transcript_id, key, check)
                uri = self.sink.uri(key)
                return Archived(uri, (uri,))
            manifest = self._archive_record(transcript_id, key, record, check)
        except Exception as exc:
            explained = self.sink.explain(exc, key)
            if explained is None:
                raise
            raise explained from None
        return Archived(manifest, (self.sink.uri(key), manifest))

    def stop(self) -> None:
        """Stop a running copy from another thread: close the download and abort the write."""
        self._stopped.set()
        stream = self._stream
        if stream is not None:
            self.log.warning("Stopping the transfer: closing the download and aborting the upload.")
            stream.cancel()
            self.sink.cancel()

    # -- steps -------------------------------------------------------------------------------------

    def _prove_audio_redacted(self, transcript_id: str, key: str, check: RedactionCheck) -> None:
        """Listen to an audio alone and record the evidence beside it; raise on a failure in block mode.

        Evidence already there for these very bytes, passing, is kept: the audio was proven before.
        """
        recorded = read_audio_digest_at(self.sink, key)
        sha256 = recorded.sha256 if recorded is not None else self.sink.digest(key).sha256
        where, evidence_uri = self.sink.uri(key), self.sink.uri(evidence_key(key))
        if not audio_redaction_problem(self.sink, key, transcript_id, sha256, allow_unproven_redaction=False):
            self.log.info("%s was listened to before; its evidence passes.", evidence_uri)
            return
        evidence = check_redaction(self.sink, key, self.hook.get_transcript(transcript_id), check)
        if not evidence.passed:
            if check.mode == "block":
                raise not_proven(
                    evidence,
                    where=where,
                    transcript_id=transcript_id,
                    withheld=f"no redaction evidence was written beside it ({evidence_uri})",
                )
            self.log.warning(
                "The redacted audio of transcript %s at %s still sounds like speech in: %s. "
                "redaction_check='warn', so the evidence records these failing verdicts; the delete task "
                "refuses it unless told allow_unproven_redaction=True.",
                transcript_id,
                where,
                evidence.failures(),
            )
        else:
            self.log.info(
                "Listened to %s: %d redacted range(s), each beeped or silenced (tolerance %d ms).",
                where,
                evidence.check["ranges"],
                check.tolerance_ms,
            )
        record_evidence_beside(
            self.sink, key, evidence, transcript_id=transcript_id, audio_sha256=sha256, replace=self.replace
        )

    def _archive_record(
        self, transcript_id: str, key: str, options: RecordOptions, check: RedactionCheck
    ) -> str:
        """Archive audio, transcript JSON and subtitles, then the manifest; return the manifest's URI."""
        keys = RecordKeys.beside(key)
        writer = RecordWriter(
            store=self.sink,
            keys=keys,
            transcript_id=transcript_id,
            hook=self.hook,
            replace=self.replace,
            subtitle_formats=options.subtitle_formats,
            chars_per_caption=options.chars_per_caption,
            extra_fields=options.include_transcript_fields,
            redaction_check=check,
        )
        _, wrote = writer.complete(lambda: self.archive_audio(transcript_id, keys.audio))
        manifest = self.sink.uri(keys.manifest)
        if not wrote:
            self.log.info("The record of transcript %s is already complete at %s.", transcript_id, manifest)
        return manifest

    def archive_audio(self, transcript_id: str, key: str) -> ArchivedAudio:
        """Copy unless ``key`` holds this transcript's audio (``wrote`` False then); settle races."""
        where = self.sink.uri(key)
        last = ""
        for _ in range(WRITE_ROUNDS):
            found = self._audio_there(transcript_id, key)
            if found is not None:
                return found
            try:
                copied, last = self._copy(transcript_id, key)
            except Exception as exc:
                self._raise_if_stopped(where, exc)
                raise
            if copied is not None:
                return copied
            self._raise_if_stopped(where, None)
        found = self._audio_there(transcript_id, key)
        if found is not None:
            return found
        raise AssemblyAITransientError(
            f"The write of {where} met concurrent writes {WRITE_ROUNDS} times (last: {last}); "
            "retry the task later."
        )

    def _raise_if_stopped(self, where: str, cause: BaseException | None) -> None:
        if self._stopped.is_set():
            raise AssemblyAITransientError(
                f"The transfer to {where} was stopped (the task is being killed): the download was closed, "
                "any multipart upload aborted, nothing written."
            ) from cause

    def _audio_there(self, transcript_id: str, key: str) -> ArchivedAudio | None:
        def probe() -> tuple[int | None, str | None]:
            with self._opened_download(transcript_id, key) as (stream, _):
                return stream.length, stream.etag if stream.etag_is_md5 else None

        return self.sink.audio_there(key, transcript_id, replace=self.replace, probe=probe)

    def _copy(self, transcript_id: str, key: str) -> tuple[ArchivedAudio | None, str]:
        """Stream the audio to ``key``; return what was written, or None and why another round is needed."""
        create_only = not self.replace
        self.sink.prepare(key)
        where = self.sink.uri(key)
        with self._opened_download(transcript_id, key) as (stream, audio_format):
            self.log.info(
                "Streaming %s (%s, %s bytes, ETag %s) to %s%s",
                stream.description,
                audio_format,
                stream.length if stream.length is not None else "unknown",
                stream.etag or "none",
                where,
                " (create only)" if create_only else "",
            )
            audio = AudioUpload(transcript_id, stream, DigestingReader(stream), audio_format, self.verify_md5)
            # An execution timeout interrupts this thread: stop at once, as on SIGTERM.
            refused = self.sink.write_audio(key, audio, create_only=create_only, on_interrupt=self.stop)
        if refused is not None:
            return None, refused
        self.log.info(
            "Copied %d bytes to %s (%d download attempt(s), MD5 %s).",
            stream.bytes_received,
            where,
            stream.attempts,
            "verified" if stream.etag_is_md5 and self.verify_md5 else "not applicable",
        )
        return audio.result(), ""

    @contextlib.contextmanager
    def _opened_download(
        self, transcript_id: str, key: str
    ) -> Iterator[tuple[ResumableDownload, AudioFormat]]:
        """Open the redacted audio's download (fresh URL, masked); yield it with its checked format.

        The transcript itself is read only to explain a redacted audio that is not there: on the
        way that works, an archive costs AssemblyAI one request per URL it needs.
        """
        description = f"the redacted audio of transcript {transcript_id}"
        with (
            httpx.Client(
                timeout=httpx.Timeout(self.download_timeout, connect=10.0),
                follow_redirects=True,
                # A redirect's URL is as secret as the pre-signed one: mask it before httpx logs it.
                event_hooks={"response": [mask_redirect_location]},
            ) as client,
            ResumableDownload(
                lambda: self._fresh_url(transcript_id),
                client=client,
                max_attempts=self.max_download_attempts,
                retry_wait_initial=self.hook.retry_wait_initial,
                retry_wait_max=self.hook.retry_wait_max,
                verify_md5=self.verify_md5,
                description=description,
            ) as stream,
        ):
            self._stream = stream
            try:
                if self._stopped.is_set():
                    stream.cancel()
                stream.open()
                _warn_when_expiring(self.log, transcript_id, stream.last_modified)
                yield stream, _audio_format(self.log, stream, description, key)
            finally:
                self._stream = None

    def _fresh_url(self, transcript_id: str) -> str:
        """Ask AssemblyAI for a newly minted (masked) URL of the redacted audio."""
        try:
            audio = self.hook.get_redacted_audio(transcript_id)
        except AssemblyAIRequestError as exc:
            if type(exc) is AssemblyAIRequestError:  # a refusal its text did not classify
                self._explain_missing_audio(transcript_id)
            raise
        if not audio.ready or not audio.url:
            self._explain_missing_audio(transcript_id)
            raise AssemblyAIError(
                f"The redacted audio of transcript {transcript_id} is still being rendered; retry the task "
                "later, or wait with AssemblyAIRedactedAudioSensor first."
            )
        return audio.url

    def _explain_missing_audio(self, transcript_id: str) -> None:
        """Read the transcript to say why its redacted audio is not there: its final error, or that
        it is still processing. Return when the transcript has completed."""
        waiting = judge_transcript(transcript_id, self.hook.get_transcript(transcript_id))
        if waiting is not None:
            raise AssemblyAIError(
                f"Transcript {transcript_id} is still {waiting.reason}, so its redacted audio is not ready. "
                "Wait for it with AssemblyAIRedactedAudioSensor before this task."
            )


def _warn_when_expiring(log: TaskLog, transcript_id: str, rendered_at: datetime | None) -> None:
    """Warn when AssemblyAI's 24 hours for the file (from its ``Last-Modified``) are nearly over."""
    if rendered_at is None or rendered_at.tzinfo is None:
        return
    left = rendered_at + RETENTION - datetime.now(UTC)
    if left > RETENTION_WARNING:
        return
    when = rendered_at.strftime("%Y-%m-%d %H:%M UTC")
    if left.total_seconds() <= 0:
        log.warning(
            "The redacted audio of transcript %s was rendered at %s, more than AssemblyAI's 24 hours "
            "ago: it may disappear at any moment.",
            transcript_id,
            when,
        )
        return
    minutes = int(left.total_seconds() // 60)
    log.warning(
        "The redacted audio of transcript %s was rendered at %s; AssemblyAI keeps it 24 hours, so about "
        "%dh%02dm are left to archive it. After that the audio must be submitted again.",
        transcript_id,
        when,
        minutes // 60,
        minutes % 60,
    )


def _audio_format(log: TaskLog, stream: ResumableDownload, description: str, key: str) -> AudioFormat:
    """Return the format the file's first bytes show; refuse what is not audio.

    The bytes decide the Content-Type; a key whose suffix names the other format gets a warning,
    since the name will mislead whoever reads the archive.
    """
    found = check_audio_header(stream.peek(HEADER_BYTES), stream.length, description=description)
    name = key.rsplit("/", 1)[-1]
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    named = {"mp3": "mp3", "wav": "wav", "wave": "wav"}.get(suffix)
    if named is not None and named != found:
        log.warning(
            "%s is %s but its target %s is named .%s; labelling it %s by its bytes.",
            description[0].upper() + description[1:],
            found,
            key,
            suffix,
            found,
        )
    return found
