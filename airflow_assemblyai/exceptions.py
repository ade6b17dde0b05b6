"""Errors raised by the AssemblyAI provider.

Two families hang off :class:`AssemblyAIError`:

* :class:`AssemblyAIFinalError`: the answer will not change on a retry (wrong key, unknown
  transcript, failed transcript, redaction never requested, file expired, bad input). It is an
  ``AirflowFailException`` too, so the task fails at once without burning its retries.
* :class:`AssemblyAITransientError`: a passing fault (429, 5xx, timeout, dropped connection)
  that outlived the hook's retry budget. Task retries may still help.

No message ever carries the API key or a pre-signed URL.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException


class AssemblyAIError(AirflowException):
    """Base class of every error this provider raises."""


class AssemblyAIFinalError(AssemblyAIError, AirflowFailException):
    """Fail the task at once: retrying cannot change the outcome."""


class AssemblyAIInvalidInputError(AssemblyAIFinalError, ValueError):
    """A parameter or connection field is wrong; the message names it and the fix."""


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


class AssemblyAIUnexpectedResponseError(AssemblyAIFinalError):
    """AssemblyAI answered in a shape this provider does not understand."""


class AssemblyAITransientError(AssemblyAIError):
    """A passing fault persisted through every retry the hook allows."""


class RedactedAudioIntegrityError(AssemblyAIError):
    """The downloaded audio does not match what the file host announced (length, MD5 or format)."""
