"""Errors raised by the AssemblyAI provider: one tree, two families.

::

    AirflowException
    └── AssemblyAIError                       every error this provider raises
        ├── AssemblyAIFinalError              permanent: also an AirflowFailException, no task retry
        │   ├── AssemblyAIInvalidInputError   a parameter or connection field is wrong (also ValueError)
        │   ├── ArchiveDestinationError       the archive destination is missing or cannot be written
        │   ├── AssemblyAIRequestError        AssemblyAI refused a request with a 4xx
        │   │   ├── AssemblyAIAuthError           401/403: the API key
        │   │   ├── SpeechModelRejectedError      the speech_models chain (missing, retired)
        │   │   ├── TranscriptNotFoundError       an id AssemblyAI does not know
        │   │   ├── RedactionNotRequestedError    submitted without redact_pii_audio
        │   │   └── RedactedAudioExpiredError     the file is past its 24 hours
        │   ├── TranscriptFailedError         the transcript ended with status "error"
        │   ├── RedactionNotProvenError       an archived redacted range still sounds like speech
        │   └── AssemblyAIUnexpectedResponseError  an answer this provider does not understand
        ├── AssemblyAITransientError          transient: a fault outlived the hook's retries
        └── RedactedAudioIntegrityError       transient: the downloaded bytes were not the file

A permanent error fails the task at once with the response's own message: retrying the request
cannot change the outcome. A transient one (429, 5xx, 408, timeouts, dropped connections, a
truncated or non-audio body) may be cured by a task retry. Airflow's control-flow exceptions
(``AirflowSensorTimeout``, ``AirflowSkipException``, ``TaskDeferred``) are raised as they are.

No message ever carries the API key or a pre-signed URL.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException


class AssemblyAIError(AirflowException):
    """Base class of every error this provider raises."""


class AssemblyAIFinalError(AssemblyAIError, AirflowFailException):
    """A permanent error: fail the task at once, since retrying cannot change the outcome."""


class AssemblyAIInvalidInputError(AssemblyAIFinalError, ValueError):
    """A parameter or connection field is wrong; the message names it and the fix."""


class ArchiveDestinationError(AssemblyAIFinalError):
    """The archive destination does not exist or cannot be written (found before anything is paid)."""


class AssemblyAIRequestError(AssemblyAIFinalError):
    """AssemblyAI rejected a request with a 4xx answer that no retry can fix."""

    def __init__(self, message: str, *, http_status: int | None = None, api_error: str | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.api_error = api_error


class AssemblyAIAuthError(AssemblyAIRequestError):
    """AssemblyAI refused the API key (401/403)."""


class SpeechModelRejectedError(AssemblyAIRequestError):
    """AssemblyAI refused the speech model chain (missing, deprecated or retired models)."""


class TranscriptNotFoundError(AssemblyAIRequestError):
    """AssemblyAI does not know this transcript id."""


class TranscriptFailedError(AssemblyAIFinalError):
    """The transcript ended with status ``error``."""


class RedactionNotRequestedError(AssemblyAIRequestError):
    """The transcript was submitted without ``redact_pii_audio``, so there is no redacted audio."""


class RedactedAudioExpiredError(AssemblyAIRequestError):
    """The redacted audio is no longer kept by AssemblyAI (it lives 24 hours)."""


class RedactionNotProvenError(AssemblyAIFinalError):
    """The archived audio does not show every redacted range beeped or silenced: no manifest is written."""


class AssemblyAIUnexpectedResponseError(AssemblyAIFinalError):
    """AssemblyAI answered in a shape this provider does not understand."""


class AssemblyAITransientError(AssemblyAIError):
    """A transient fault (429, 5xx, 408, timeout, dropped connection) outlived the hook's retries."""


class RedactedAudioIntegrityError(AssemblyAIError):
    """The downloaded audio does not match what the file host announced (length, MD5 or format)."""
