"""What an AssemblyAI answer means for a wait on redacted audio.

This is the one decision table that the sensor (poke and reschedule) and the trigger (deferred)
share through the hook. It is pure: it reads parsed answers and returns a verdict or raises a
final error; it never performs I/O. AssemblyAI's own texts enter its errors with every URL cut to
its origin (:func:`~airflow_assemblyai.masking.mask_urls_in`): a failed transcript's text names the
``audio_url``, which may be pre-signed, and these errors end up in trigger events and task logs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_assemblyai.defaults import DEFAULT_SPEECH_MODELS
from airflow_assemblyai.exceptions import (
    AssemblyAIRequestError,
    AssemblyAIUnexpectedResponseError,
    RedactedAudioExpiredError,
    RedactionNotRequestedError,
    SpeechModelRejectedError,
    TranscriptFailedError,
    TranscriptNotFoundError,
)
from airflow_assemblyai.masking import mask_urls_in

#: 400 text while the transcript is queued or processing: the only 400 that means "wait".
PENDING_TEXT = "Transcription is still in progress. Redacted audio will be available after it has completed."
#: 400 text when the transcript was submitted without ``redact_pii_audio``.
NOT_REQUESTED_TEXT = (
    "A redacted audio file for this transcript ID doesn't exist. Try submitting the transcript "
    "again with `redact_pii_audio` set to `true`."
)
#: 400 text for an id AssemblyAI never knew (or no longer knows).
NOT_FOUND_TEXT = "Transcript lookup error, transcript id not found"
#: The ``audio_url`` a deleted transcript keeps, its text and words gone.
DELETED_AUDIO_URL = "http://deleted_by_user"

AudioFormat = Literal["mp3", "wav"]
DEFAULT_AUDIO_FORMAT: AudioFormat = "mp3"


class TranscriptStatus(enum.StrEnum):
    """Status of a transcript at AssemblyAI."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    ERROR = "error"

    def is_terminal(self) -> bool:
        """Return True when the status will not change any more."""
        return self in (TranscriptStatus.COMPLETED, TranscriptStatus.ERROR)


@dataclass(frozen=True)
class RedactedAudio:
    """Answer of ``GET /v2/transcript/{id}/redacted-audio``: ready with a URL, or not yet.

    The URL is pre-signed and secret; it is kept out of ``repr`` so it cannot leak into logs.
    """

    ready: bool
    url: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RedactionPoll:
    """Verdict of one poll: ``ready`` or ``waiting`` (with why), plus the audio format."""

    state: Literal["ready", "waiting"]
    reason: str
    audio_format: AudioFormat = DEFAULT_AUDIO_FORMAT

    @property
    def ready(self) -> bool:
        """Return True when the redacted audio can be downloaded now."""
        return self.state == "ready"


def audio_format_of(transcript: dict[str, Any]) -> AudioFormat:
    """Return the redacted audio format a transcript asked for (``mp3`` unless ``wav``)."""
    return "wav" if transcript.get("redact_pii_audio_quality") == "wav" else DEFAULT_AUDIO_FORMAT


def judge_transcript(transcript_id: str, transcript: dict[str, Any]) -> RedactionPoll | None:
    """Judge a transcript: a ``waiting`` verdict, ``None`` when its audio must be asked for, or raise.

    :raises TranscriptFailedError: the transcript ended with status ``error``.
    :raises RedactionNotRequestedError: it completed but ``redact_pii_audio`` was never set.
    """
    raw_status = transcript.get("status")
    try:
        status = TranscriptStatus(str(raw_status))
    except ValueError:
        raise AssemblyAIUnexpectedResponseError(
            f"Transcript {transcript_id} has an unknown status {raw_status!r}."
        ) from None
    if status is TranscriptStatus.ERROR:
        reason = mask_urls_in(str(transcript.get("error") or "no reason given")).rstrip(". ")
        raise TranscriptFailedError(
            f"Transcript {transcript_id} failed at AssemblyAI: {reason}. "
            "Fix the cause (audio source, parameters) and submit a new transcript."
        )
    if not status.is_terminal():
        return RedactionPoll(state="waiting", reason=status.value, audio_format=audio_format_of(transcript))
    if transcript.get("redact_pii_audio") is False:
        raise RedactionNotRequestedError(
            f"Transcript {transcript_id} was submitted without redact_pii_audio, so it has no redacted "
            "audio. Submit it again with redact_pii=True and redact_pii_audio=True.",
        )
    return None


def judge_redacted_audio_answer(transcript_id: str, status_code: int, body: dict[str, Any]) -> RedactedAudio:
    """Turn an answer of the redacted-audio endpoint into :class:`RedactedAudio`, or raise.

    200 with ``redacted_audio_ready`` is ready; 202 and the "still in progress" 400 mean wait; any
    other 400 (or 404) is final, classified by AssemblyAI's own text.
    """
    api_error = mask_urls_in(str(body.get("error") or ""))
    if status_code == 200:
        url = body.get("redacted_audio_url")
        if body.get("status") != "redacted_audio_ready" or not isinstance(url, str) or not url:
            raise AssemblyAIUnexpectedResponseError(
                f"AssemblyAI answered 200 for the redacted audio of transcript {transcript_id} "
                f"without a ready URL (status {body.get('status')!r})."
            )
        return RedactedAudio(ready=True, url=url)
    if status_code == 202 or (status_code == 400 and api_error.strip() == PENDING_TEXT):
        return RedactedAudio(ready=False)
    raise redacted_audio_error(transcript_id, status_code, api_error)


def redacted_audio_error(transcript_id: str, status_code: int, api_error: str) -> AssemblyAIRequestError:
    """Return the final error for a 4xx on the redacted-audio endpoint, by AssemblyAI's text."""
    api_error = mask_urls_in(api_error)
    text = api_error or f"HTTP {status_code}"
    if api_error.strip() == NOT_FOUND_TEXT or status_code == 404:
        return TranscriptNotFoundError(
            f"AssemblyAI does not know transcript {transcript_id}: {text}. Check the transcript id "
            "(and that the connection's region matches where it was submitted).",
            http_status=status_code,
            api_error=api_error,
        )
    if api_error.strip() == NOT_REQUESTED_TEXT:
        return RedactionNotRequestedError(
            f"Transcript {transcript_id} has no redacted audio: {text} "
            "Set redact_pii=True and redact_pii_audio=True on the transcribe task.",
            http_status=status_code,
            api_error=api_error,
        )
    lowered = api_error.lower()
    if "expire" in lowered or "no longer" in lowered:
        return RedactedAudioExpiredError(
            f"The redacted audio of transcript {transcript_id} is gone: {text}. AssemblyAI keeps it "
            "for 24 hours after the transcript completes; submit the audio again to get a new one.",
            http_status=status_code,
            api_error=api_error,
        )
    return AssemblyAIRequestError(
        f"AssemblyAI refused the redacted audio of transcript {transcript_id} (HTTP {status_code}): {text}",
        http_status=status_code,
        api_error=api_error,
    )


def missing_redacted_audio_error(
    transcript_id: str, transcript: dict[str, Any], error: AssemblyAIRequestError, *, conn_id: str
) -> AssemblyAIRequestError:
    """Return the error for a "doesn't exist" answer, judged against the transcript it is about.

    AssemblyAI gives the same answer whether ``redact_pii_audio`` was never asked for or the speech
    model that ran renders no redacted audio. When the transcript did ask for it, the model is the
    cause: the error names ``speech_model_used`` and the connection field that sets the chain.
    Any other error is returned as it is.
    """
    if not isinstance(error, RedactionNotRequestedError) or transcript.get("redact_pii_audio") is not True:
        return error
    model = transcript.get("speech_model_used") or "(not reported)"
    return SpeechModelRejectedError(
        f"Transcript {transcript_id} asked for redact_pii_audio, but AssemblyAI answered that no redacted "
        f"audio file exists for it ({error.api_error or f'HTTP {error.http_status}'}). It ran on "
        f"speech_model_used {model!r}, which rendered no redacted audio. Set the extra field speech_models "
        f"of connection {conn_id!r} (or the transcribe task's speech_models) to models that render "
        f"redacted audio, e.g. {', '.join(DEFAULT_SPEECH_MODELS)} (docs/models.md#redacted-audio), and "
        "submit the audio again.",
        http_status=error.http_status,
        api_error=error.api_error,
    )
