"""A loopback emulator of the AssemblyAI v2 API subset this provider uses (FastAPI + uvicorn).

Run it with ``python -m airflow_assemblyai.testing.emulator --port N``, or in-process with
:func:`run_emulator`. It serves on 127.0.0.1 only, keeps transcripts in memory and files in a
storage directory, serves the redacted audio itself behind signed, expiring, S3-like URLs, records
every request, and lets tests script faults per transcript (:class:`Faults`), end seeded transcripts
when they choose (:meth:`Emulator.finish`), or seed a completion profile for benchmarks
(:meth:`Emulator.add_completion_profile`, ``POST /_emulator/completion-profile``).

By default it is strict: it refuses what AssemblyAI refuses. A request field that AssemblyAI's spec
and SDK do not know is a 400; an ``audio_url`` it cannot download (neither an emulator upload nor a
loopback URL that answers 200) fails the transcript with a download error; bytes that are not audio
or video fail it with a transcoding error. ``strict=False`` (``--lenient``) accepts unknown fields
and stands a synthesized WAV in for what it cannot fetch or decode.

What it cannot know about the real API (deviations): transcription text and PII spans are
invented (fixed fractions of the duration are beeped); only 16-bit WAV sources are decoded (other
audio is replaced by a synthesized tone WAV); the wording of its refusals of unknown fields is its
own (the spec forbids them, no public report quotes the answer); the text of the 400 for an expired
file is a guess (:data:`EXPIRED_TEXT`); real rate limits are not enforced unless scripted. On the
file host, a body of unknown length goes out chunked (uvicorn frames it so), not close-delimited; a
cut close-delimited body is stood in for by a clean early end (``Faults.short_body_after``).

The package is split by role: :mod:`.state` (transcripts, uploads, counters and the test API),
:mod:`.faults` (what a test can script), :mod:`.rules` (what the API accepts and the texts it
answers), :mod:`.api` and :mod:`.views` (the v2 routes and the shapes of their answers),
:mod:`.file_host` (the signed-URL file host), :mod:`.control` (the ``/_emulator`` routes) and
:mod:`.server` (the :class:`Emulator` app and uvicorn).
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as missing:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        f"The AssemblyAI emulator needs FastAPI and uvicorn ({missing.name} is not installed): "
        'pip install "airflow-provider-assemblyai[testing]"'
    ) from missing

from airflow_assemblyai.testing.emulator.faults import Faults
from airflow_assemblyai.testing.emulator.file_host import (
    CHUNK,
    HTML_ERROR_PAGE,
    S3_DENIED,
    S3_ERRORS,
    S3_EXPIRED,
    S3_TOKEN_EXPIRY_CODES,
    S3_TWO_AUTHS,
    SLOW_CHUNK,
)
from airflow_assemblyai.testing.emulator.rules import (
    ACCEPTED_MODELS,
    AUTH_ERROR_TEXT,
    DELETED_TEXT,
    DOWNLOAD_ERROR_TEXT,
    EXPIRED_TEXT,
    FAILED_TRANSCRIPT_TEXT,
    KNOWN_REQUEST_FIELDS,
    MAX_LIST_LIMIT,
    MISSING_MODELS_TEXT,
    MODEL_DOCS,
    SINGULAR_MODEL_TEXT,
    SUBTITLES_NOT_READY_TEXT,
    TRANSCODING_ERROR_TEXT,
)
from airflow_assemblyai.testing.emulator.server import Emulator, run_emulator
from airflow_assemblyai.testing.emulator.state import RecordedRequest, ScheduledTranscript

__all__ = [
    "ACCEPTED_MODELS",
    "AUTH_ERROR_TEXT",
    "CHUNK",
    "DELETED_TEXT",
    "DOWNLOAD_ERROR_TEXT",
    "EXPIRED_TEXT",
    "FAILED_TRANSCRIPT_TEXT",
    "HTML_ERROR_PAGE",
    "KNOWN_REQUEST_FIELDS",
    "MAX_LIST_LIMIT",
    "MISSING_MODELS_TEXT",
    "MODEL_DOCS",
    "S3_DENIED",
    "S3_ERRORS",
    "S3_EXPIRED",
    "S3_TOKEN_EXPIRY_CODES",
    "S3_TWO_AUTHS",
    "SINGULAR_MODEL_TEXT",
    "SLOW_CHUNK",
    "SUBTITLES_NOT_READY_TEXT",
    "TRANSCODING_ERROR_TEXT",
    "Emulator",
    "Faults",
    "RecordedRequest",
    "ScheduledTranscript",
    "run_emulator",
]
