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
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import copy
import dataclasses
import hashlib
import hmac
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

try:
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response, StreamingResponse
except ImportError as missing:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        f"The AssemblyAI emulator needs FastAPI and uvicorn ({missing.name} is not installed): "
        'pip install "airflow-provider-assemblyai[testing]"'
    ) from missing

from airflow_assemblyai.hooks.settings import is_loopback_host
from airflow_assemblyai.redaction import NOT_FOUND_TEXT, NOT_REQUESTED_TEXT, PENDING_TEXT
from airflow_assemblyai.testing.audio import describe_non_audio, render_redacted, synth_wav, write_large_wav
from airflow_assemblyai.testing.loopback import EMULATOR_READY, free_port
from airflow_assemblyai.testing.models import chain_refusal, model_used, renders_redacted_audio
from airflow_assemblyai.testing.transcript import DEFAULT_CHARS_PER_CAPTION, subtitles, transcript_fields

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

AUTH_ERROR_TEXT = "Authentication error, API token missing/invalid"
MODEL_DOCS = "https://www.assemblyai.com/docs/pre-recorded-audio/select-the-speech-model"
#: AssemblyAI's answer to the deprecated singular ``speech_model`` (as reported by its users, 2026).
SINGULAR_MODEL_TEXT = (
    f'speech_model is deprecated. Use "speech_models" instead. See documentation: {MODEL_DOCS}'
)
#: A guess: the wording of the 400 for a request without ``speech_models`` is not published.
MISSING_MODELS_TEXT = (
    f'"speech_models" is required: list the speech models to use in priority order. See {MODEL_DOCS}'
)
#: The chain seeded transcripts carry; which models are accepted, routed or refused: testing/models.py.
ACCEPTED_MODELS = ("universal-3-5-pro", "universal-2")
#: ``GET /v2/transcript`` accepts ``limit`` from 1 to this.
MAX_LIST_LIMIT = 200
#: A guess: the real API's wording for a redacted file past its 24 hours is not documented.
EXPIRED_TEXT = "The redacted audio file for this transcript has expired and is no longer available."
FAILED_TRANSCRIPT_TEXT = "Transcript failed; it has no redacted audio."
DELETED_TEXT = "Deleted by user."
#: A guess: the wording of the 400 for subtitles of a transcript that has not completed.
#: Failed-transcript texts of the strict emulator. AssemblyAI's docs and support playbook quote these
#: beginnings ("Download error", "File does not appear to contain audio"); the tails vary by report.
DOWNLOAD_ERROR_TEXT = "Download error, unable to download {url}"
TRANSCODING_ERROR_TEXT = (
    "Transcoding failed. File does not appear to contain audio. File type is {media_type}."
)
#: The request fields AssemblyAI knows: its API spec (TranscriptParams, additionalProperties false)
#: and its Python SDK's request model (1.8.x), united. A strict emulator refuses any other field.
KNOWN_REQUEST_FIELDS = frozenset(
    {
        "audio_url", "audio_end_at", "audio_start_from", "auto_chapters", "auto_highlights", "boost_param",
        "content_safety", "content_safety_confidence", "custom_spelling", "custom_topics", "disfluencies",
        "domain", "dual_channel", "entity_detection", "filter_profanity", "format_text", "iab_categories",
        "keyterms_prompt", "keyterms_prompt_options", "language_code", "language_codes",
        "language_confidence_threshold", "language_detection", "language_detection_options",
        "language_detection_results", "multichannel", "prompt", "punctuate", "redact_pii",
        "redact_pii_audio", "redact_pii_audio_options", "redact_pii_audio_quality", "redact_pii_policies",
        "redact_pii_return_unredacted", "redact_pii_sub", "remove_audio_tags", "sentiment_analysis",
        "speaker_labels", "speaker_options", "speakers_expected", "speech_model", "speech_models",
        "speech_threshold", "speech_understanding", "summarization", "summary_model", "summary_type",
        "temperature", "topics", "webhook_auth_header_name", "webhook_auth_header_value", "webhook_url",
        "word_boost",
    }
)  # fmt: skip
SUBTITLES_NOT_READY_TEXT = "Transcript is not completed yet; subtitles are available once it has completed."
S3_EXPIRED = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
S3_DENIED = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
#: S3 error codes the file host can be scripted to answer, with their status and a message.
S3_ERRORS: dict[str, tuple[int, str]] = {
    "ExpiredToken": (400, "The security token of this request has expired."),
    "TokenRefreshRequired": (400, "The security token of this request must be refreshed."),
    "RequestExpired": (400, "This request is past its expiry time."),
    "AccessDenied": (403, "Access Denied"),
    "SignatureDoesNotMatch": (403, "The signature of this request is not valid."),
    "NoSuchKey": (404, "The key does not exist."),
    "InternalError": (500, "Internal error, try again."),
}
#: Codes after which the URL's session token stays dead: only a freshly minted URL works.
S3_TOKEN_EXPIRY_CODES = frozenset({"ExpiredToken", "TokenRefreshRequired", "RequestExpired"})
HTML_ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>Bad Gateway</h1><p>The proxy could not reach the file host.</p></body></html>"
)
#: Bytes per step of a slow body (``Faults.slow_body_after``).
SLOW_CHUNK = 64 * 1024
S3_TWO_AUTHS = (
    "<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; only the "
    "X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header "
    "should be specified</Message></Error>"
)
CHUNK = 256 * 1024


@dataclass
class Faults:
    """Faults scripted for one transcript (all JSON-serialisable)."""

    processing_seconds: float | None = None
    error: str | None = None
    render_seconds: float = 0.0
    #: The next N redacted-audio requests after completion answer 202 (a timing-free ``render_seconds``).
    render_polls: int = 0
    api_errors: list[int] = field(default_factory=list)
    retry_after: int | None = None
    # -- the file host (the redacted-audio download) --
    #: Drop the connection after this many body bytes, on the next ``cut_downloads`` downloads.
    cut_download_after: int | None = None
    cut_downloads: int = 1
    #: Bare statuses (no body) answered to the next downloads, in order.
    download_statuses: list[int] = field(default_factory=list)
    #: The next N downloads answer 307 with a freshly signed URL of the same file (a CDN hop, say).
    redirect_downloads: int = 0
    #: S3 error codes (see :data:`S3_ERRORS`) answered with their XML body to the next downloads.
    download_errors: list[str] = field(default_factory=list)
    #: S3 error codes answered to the next *resumes* (requests from a byte after 0). An expiry code
    #: (``ExpiredToken``, ``TokenRefreshRequired``, ``RequestExpired``) kills the URL's token for good.
    resume_errors: list[str] = field(default_factory=list)
    #: The next N minted URLs are already past their ``Expires`` (403 "Request has expired").
    expired_urls: int = 0
    url_ttl_seconds: float = 1800.0
    #: Serve the body with no length at all (no ``Content-Length``, no ``Content-Range`` total,
    #: ``Range`` ignored), as a close-delimited body looks to the client.
    unknown_length: bool = False
    #: End the body cleanly after this many bytes on the next ``short_bodies`` downloads (how a cut
    #: close-delimited body looks: no error, just an early end). Use it with ``unknown_length``.
    short_body_after: int | None = None
    short_bodies: int = 1
    #: Serve ``"html"`` (a proxy's error page) or ``"empty"`` (no bytes) with 200 instead of the audio.
    substitute_body: str | None = None
    #: ``"md5"`` (a plain MD5 ETag), ``"multipart"`` (``"<md5 of parts>-N"``) or ``"none"``.
    etag_style: str = "md5"
    #: After this many bytes of the file, send ``SLOW_CHUNK`` bytes per ``slow_body_delay`` seconds.
    slow_body_after: int | None = None
    slow_body_delay: float = 0.5
    #: Seconds to backdate the redacted file's ``Last-Modified`` (when it was rendered) by.
    file_age_seconds: float | None = None
    redacted_size_bytes: int | None = None

    def __post_init__(self) -> None:
        # Each transcript gets its own lists, so popping a scripted answer never touches another's.
        for name, value in vars(self).items():
            if isinstance(value, list):
                setattr(self, name, list(value))


@dataclass
class RecordedRequest:
    """One request the emulator answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int
    transcript_id: str | None
    kind: str


@dataclass(frozen=True)
class ScheduledTranscript:
    """A transcript of a completion profile: when it completes and when its redacted audio is ready."""

    id: str
    #: Epoch seconds at which the transcript turns ``completed``.
    completes_at: float
    #: Epoch seconds from which ``GET .../redacted-audio`` answers 200 (``completes_at`` + render time).
    ready_at: float


@dataclass
class _Transcript:
    id: str
    params: dict[str, Any]
    faults: Faults
    created: float
    source: bytes
    forced_status: str | None = None
    completed_at: float | None = None
    file: Path | None = None
    file_format: str = "wav"
    etag: str = ""
    duration: float = 0.0
    expired: bool = False
    deleted: bool = False


class Emulator:
    """State and FastAPI app of the emulator; thread-safe."""

    def __init__(
        self,
        *,
        api_key: str = "emulator-key",
        processing_seconds: float = 1.0,
        storage_dir: Path | None = None,
        strict: bool = True,
    ) -> None:
        self.api_key = api_key
        #: Refuse what AssemblyAI refuses: unknown request fields, URLs it cannot download, non-audio.
        self.strict = strict
        self.processing_seconds = processing_seconds
        self._own_storage = storage_dir is None
        self.storage = Path(storage_dir or tempfile.mkdtemp(prefix="aai-emulator-"))
        self.storage.mkdir(parents=True, exist_ok=True)
        self.base_url = ""
        self.next_faults: Faults | None = None
        self.requests: list[RecordedRequest] = []
        #: JSON bodies of every ``POST /v2/transcript``, accepted or refused, as received.
        self.submissions: list[Any] = []
        self.violations: list[str] = []
        self._clients: set[tuple[str, int]] = set()
        self._queued: list[tuple[int, int | None]] = []
        self._transcripts: dict[str, _Transcript] = {}
        self._uploads: dict[str, Path] = {}
        self._secret = secrets.token_bytes(32)
        self._served: dict[str, int] = {}
        #: Session tokens the file host treats as expired, with the error code it answers them.
        self._dead_tokens: dict[str, str] = {}
        self._lock = threading.RLock()
        self.app = self._build_app()

    # -- test API ----------------------------------------------------------------------------

    def add_transcript(
        self,
        *,
        audio: bytes | None = None,
        status: str = "completed",
        params: dict[str, Any] | None = None,
        faults: Faults | None = None,
    ) -> str:
        """Seed a transcript directly (``status`` queued, processing, completed or error); return its id."""
        faults = faults or Faults()
        if status == "error" and faults.error is None:
            faults.error = "Transcoding failed."
        now = time.time()
        record = _Transcript(
            id=str(uuid.uuid4()),
            params={
                "audio_url": "https://example.invalid/seeded.wav",
                "speech_models": list(ACCEPTED_MODELS),
                **(params or {}),
            },
            faults=faults,
            created=now,
            source=audio if audio is not None else synth_wav(),
            forced_status=None if status in ("completed", "error") else status,
        )
        if status in ("completed", "error"):
            record.completed_at = now
        with self._lock:
            self._transcripts[record.id] = record
        return record.id

    def finish(self, transcript_id: str) -> None:
        """End a seeded ``queued`` or ``processing`` transcript now: ``error`` if its faults say so."""
        with self._lock:
            record = self._get(transcript_id)
            record.forced_status = None
            record.completed_at = time.time()

    def add_completion_profile(
        self,
        *,
        waited: int,
        unwaited: int | None = None,
        window_seconds: float = 600.0,
        render_seconds: tuple[float, float] = (5.0, 30.0),
        seed: int = 0,
    ) -> list[ScheduledTranscript]:
        """Seed transcripts that complete at random times across a window; return the waited ones.

        All are created now (``waited`` + ``unwaited``, shuffled in creation order, ``unwaited``
        defaulting to as many as ``waited``: the account's other work, which nobody waits on).
        Each completes at a uniformly random moment of ``window_seconds`` and its redacted audio is
        ready a uniformly random ``render_seconds`` later (202 before). All share one source and
        one rendered file, so seeding ten thousand costs one render.
        """
        rng = random.Random(seed)
        unwaited = waited if unwaited is None else unwaited
        roles = [True] * waited + [False] * unwaited
        rng.shuffle(roles)
        source = synth_wav()
        now = time.time()
        schedule: list[ScheduledTranscript] = []
        with self._lock:
            shared: _Transcript | None = None
            for index, is_waited in enumerate(roles):
                completes_in = rng.uniform(0.0, window_seconds)
                render = rng.uniform(*render_seconds)
                record = _Transcript(
                    id=str(uuid.uuid4()),
                    params={
                        "audio_url": "https://example.invalid/profile.wav",
                        "speech_models": list(ACCEPTED_MODELS),
                        "redact_pii": True,
                        "redact_pii_audio": True,
                        "redact_pii_policies": ["person_name"],
                    },
                    faults=Faults(processing_seconds=completes_in, render_seconds=render),
                    created=now + index * 1e-6,  # distinct, in creation order
                    source=source,
                )
                if shared is None:
                    self._render(record)
                    shared = record
                record.file, record.file_format, record.etag, record.duration = (
                    shared.file,
                    shared.file_format,
                    shared.etag,
                    shared.duration,
                )
                self._transcripts[record.id] = record
                if is_waited:
                    ready = record.created + completes_in + render
                    schedule.append(ScheduledTranscript(record.id, record.created + completes_in, ready))
        return schedule

    def set_faults(self, transcript_id: str, faults: Faults) -> None:
        """Replace the faults of a transcript."""
        with self._lock:
            self._get(transcript_id).faults = faults

    def queue_responses(self, statuses: list[int], retry_after: int | None = None) -> None:
        """Answer the next ``len(statuses)`` API requests with these statuses, in order."""
        with self._lock:
            self._queued.extend((s, retry_after) for s in statuses)

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        """Count recorded requests by method and path prefix."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method) and r.path.startswith(path_prefix)
            )

    @property
    def connections_seen(self) -> int:
        """Return the number of distinct TCP connections seen."""
        with self._lock:
            return len(self._clients)

    @property
    def sample_audio_url(self) -> str:
        """Return a URL of a generated WAV that this emulator can download, as AssemblyAI downloads any
        public URL (a strict emulator fails a transcript whose ``audio_url`` it cannot reach)."""
        return f"{self.base_url}/_samples/call.wav"

    def redacted_audio_path(self, transcript_id: str) -> Path:
        """Return the file the download URL serves for a transcript (rendering it if needed)."""
        with self._lock:
            record = self._get(transcript_id)
            return self._render(record)

    def redacted_audio(self, transcript_id: str) -> bytes:
        """Return exactly the bytes the download URL serves."""
        return self.redacted_audio_path(transcript_id).read_bytes()

    def corrupt_redacted_audio(self, transcript_id: str, offset: int) -> None:
        """Flip one byte of the served file at ``offset`` (from the end when negative), keeping its
        length and the ETag (the MD5 of the bytes as rendered): a download then fails its MD5 check."""
        with self.redacted_audio_path(transcript_id).open("r+b") as handle:
            handle.seek(offset, os.SEEK_END if offset < 0 else os.SEEK_SET)
            byte = handle.read(1)
            handle.seek(-1, os.SEEK_CUR)
            handle.write(bytes([byte[0] ^ 0xFF]))

    def expire(self, transcript_id: str) -> None:
        """Make the redacted file gone, as after 24 hours."""
        with self._lock:
            self._get(transcript_id).expired = True

    def deleted(self, transcript_id: str) -> bool:
        """Return whether a transcript was deleted."""
        with self._lock:
            return self._get(transcript_id).deleted

    def reset(self) -> None:
        """Forget every transcript, upload, request and scripted fault."""
        with self._lock:
            self._transcripts.clear()
            self._uploads.clear()
            self.requests.clear()
            self.submissions.clear()
            self.violations.clear()
            self._queued.clear()
            self._served.clear()
            self._dead_tokens.clear()
            self.next_faults = None

    def close(self) -> None:
        """Remove the storage directory when the emulator made it."""
        if self._own_storage:
            shutil.rmtree(self.storage, ignore_errors=True)

    # -- model ---------------------------------------------------------------------------------

    def _get(self, transcript_id: str) -> _Transcript:
        record = self._transcripts.get(transcript_id)
        if record is None:
            raise KeyError(transcript_id)
        return record

    def _status(self, record: _Transcript) -> str:
        if record.forced_status:
            return record.forced_status
        if record.completed_at is not None:
            return "error" if record.faults.error else "completed"
        seconds = record.faults.processing_seconds
        seconds = self.processing_seconds if seconds is None else seconds
        elapsed = time.time() - record.created
        if elapsed < seconds / 3:
            return "queued"
        if elapsed < seconds:
            return "processing"
        if record.completed_at is None:
            record.completed_at = record.created + seconds
        return "error" if record.faults.error else "completed"

    def _render(self, record: _Transcript) -> Path:
        if record.file is not None:
            return record.file
        wanted = "wav" if record.params.get("redact_pii_audio_quality") == "wav" else "mp3"
        if record.faults.redacted_size_bytes:
            path = self.storage / f"{record.id}.wav"
            write_large_wav(path, record.faults.redacted_size_bytes)
            fmt, duration = "wav", record.faults.redacted_size_bytes / 32_000
        else:
            options = record.params.get("redact_pii_audio_options") or {}
            silence = options.get("override_audio_redaction_method") == "silence"
            data, fmt, duration = render_redacted(record.source, fmt=wanted, silence=silence)
            path = self.storage / f"{record.id}.{fmt}"
            path.write_bytes(data)
        digest = hashlib.md5()
        with path.open("rb") as handle:
            while chunk := handle.read(4 * 1024 * 1024):
                digest.update(chunk)
        record.file, record.file_format, record.etag, record.duration = (
            path,
            fmt,
            digest.hexdigest(),
            duration,
        )
        return path

    def _view(self, record: _Transcript) -> dict[str, Any]:
        """Return a transcript as ``GET /v2/transcript/{id}`` does, in the shapes of AssemblyAI's spec."""
        status = self._status(record)
        params = record.params
        body: dict[str, Any] = {
            "language_code": "en_us",
            "punctuate": True,
            "format_text": True,
            "redact_pii": False,
            "redact_pii_audio": False,
            "webhook_url": None,
            "speaker_labels": False,
            **params,
            "id": record.id,
            "status": status,
            "text": None,
            "words": None,
            "utterances": None,
            "confidence": None,
            "audio_duration": None,
            # Required by the spec (deprecated or not); null where it allows null.
            "speech_model": None,
            "acoustic_model": "assemblyai_default",
            "language_model": "assemblyai_default",
            "webhook_auth": False,
            "auto_highlights": bool(params.get("auto_highlights", False)),
            "summarization": bool(params.get("summarization", False)),
            "language_confidence_threshold": params.get("language_confidence_threshold"),
            "language_confidence": None,
        }
        if status == "completed":
            duration = self._source_duration(record)
            content = (
                {"text": DELETED_TEXT, "words": [], "utterances": None}
                if record.deleted
                else transcript_fields(duration, params)
            )
            body.update(
                content,
                confidence=0.9,
                audio_duration=round(duration),
                language_confidence=None if params.get("language_code") else 0.99,
                speech_model_used=_model_used(params),
            )
        elif status == "error":
            body["error"] = record.faults.error
        return body

    @staticmethod
    def _source_duration(record: _Transcript) -> float:
        from airflow_assemblyai.testing.audio import read_mono_pcm

        decoded = read_mono_pcm(record.source)
        return len(decoded[0]) / 2 / decoded[1] if decoded else 3.0

    def _sign(self, name: str, expires: int, token: str) -> str:
        """Return a SigV2-style signature: base64 of an HMAC-SHA1 over the request's parts."""
        message = f"GET\n\n\n{expires}\nx-amz-security-token:{token}\n/redacted-audio/{name}".encode()
        return base64.b64encode(hmac.new(self._secret, message, hashlib.sha1).digest()).decode()

    def _mint_url(self, record: _Transcript) -> str:
        """Return a pre-signed URL shaped like AssemblyAI's: SigV2, encoded base64, a session token."""
        self._render(record)
        ttl = record.faults.url_ttl_seconds
        if record.faults.expired_urls > 0:
            record.faults.expired_urls -= 1
            ttl = -60
        expires = int(time.time() + ttl)
        name = record.file.name if record.file else ""
        while True:
            # A token whose signature holds "+" and "/" (its "=" is always there), so every URL
            # carries %2B, %2F and %3D, as the real ones often do.
            token = base64.b64encode(secrets.token_bytes(47)).decode()
            signature = self._sign(name, expires, token)
            if "+" in signature and "/" in signature:
                break
        return (
            f"{self.base_url}/_files/{name}?AWSAccessKeyId=ASIAEMULATOREXAMPLE&Signature="
            f"{quote(signature, safe='')}&x-amz-security-token={quote(token, safe='')}&Expires={expires}"
        )

    def served_bytes(self, transcript_id: str) -> int:
        """Return how many body bytes of a transcript's redacted audio the file host has sent."""
        with self._lock:
            return self._served.get(transcript_id, 0)

    # -- HTTP ----------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="AssemblyAI v2 emulator", docs_url=None, redoc_url=None, openapi_url=None)
        emulator = self

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Response:
            path = request.url.path
            kind = (
                "api" if path.startswith("/v2/") else "download" if path.startswith("/_files/") else "control"
            )
            if path.startswith("/_uploads/"):
                kind = "upload_fetch"
            client = request.client
            with emulator._lock:
                if client:
                    emulator._clients.add((client.host, client.port))
            if kind == "api":
                early = emulator._early_answer(request)
                if early is not None:
                    response: Response = early
                else:
                    response = await call_next(request)
            else:
                response = await call_next(request)
            with emulator._lock:
                emulator.requests.append(
                    RecordedRequest(
                        method=request.method,
                        path=path,
                        query=dict(request.query_params),
                        headers={k.lower(): v for k, v in request.headers.items()},
                        status=response.status_code,
                        transcript_id=request.path_params.get("transcript_id") or _transcript_id_of(path),
                        kind=kind,
                    )
                )
            return response

        @app.post("/v2/upload")
        async def upload(request: Request) -> Response:
            upload_id = uuid.uuid4().hex
            path = emulator.storage / f"upload-{upload_id}"
            with path.open("wb") as out:
                async for chunk in request.stream():
                    out.write(chunk)
            with emulator._lock:
                emulator._uploads[upload_id] = path
            return JSONResponse({"upload_url": f"{emulator.base_url}/_uploads/{upload_id}"})

        @app.get("/_uploads/{upload_id}")
        async def uploaded(upload_id: str) -> Response:
            path = emulator._uploads.get(upload_id)
            if path is None:
                return Response(status_code=404)
            return Response(path.read_bytes(), media_type="application/octet-stream")

        @app.get("/_samples/{name}")
        async def sample(name: str) -> Response:
            """Serve a generated WAV, an ``audio_url`` the emulator can download (``sample_audio_url``)."""
            return Response(synth_wav(), media_type="audio/wav")

        @app.post("/v2/transcript")
        async def submit(request: Request) -> Response:
            try:
                params = await request.json()
            except ValueError:
                return _error(400, "Invalid JSON body.")
            with emulator._lock:
                emulator.submissions.append(copy.deepcopy(params))  # as received, whatever happens next
            if not isinstance(params, dict) or not params.get("audio_url"):
                return _error(400, "audio_url is required.")
            refusal = _refuse_models(params)
            if refusal:
                return _error(400, refusal)
            if params.get("redact_pii") and not params.get("redact_pii_policies"):
                return _error(400, "redact_pii_policies is required when redact_pii is true.")
            if params.get("redact_pii_audio") and not params.get("redact_pii"):
                return _error(400, "redact_pii must be true when redact_pii_audio is true.")
            quality = params.get("redact_pii_audio_quality")
            if quality is not None and quality not in ("mp3", "wav"):
                return _error(400, "redact_pii_audio_quality must be one of mp3, wav.")
            unknown = sorted(set(params) - KNOWN_REQUEST_FIELDS) if emulator.strict else []
            if unknown:
                return _error(
                    400, f"Invalid request: unknown field(s) {', '.join(unknown)}; check their spelling."
                )
            audio_url = str(params["audio_url"])
            fetched = await emulator._fetch_source(audio_url)
            failure = emulator._source_failure(audio_url, fetched)
            source = fetched if fetched is not None and failure is None else synth_wav()
            with emulator._lock:
                faults = dataclasses.replace(emulator.next_faults) if emulator.next_faults else Faults()
                if failure and faults.error is None:
                    faults.error = failure
                faults.api_errors = list(faults.api_errors)
                faults.download_statuses = list(faults.download_statuses)
                record = _Transcript(
                    id=str(uuid.uuid4()), params=params, faults=faults, created=time.time(), source=source
                )
                emulator._transcripts[record.id] = record
                return JSONResponse(emulator._view(record))

        @app.get("/v2/transcript")
        async def listing(request: Request) -> Response:
            return emulator._list(request)

        @app.get("/v2/transcript/{transcript_id}")
        async def get_transcript(transcript_id: str) -> Response:
            with emulator._lock:
                record = emulator._transcripts.get(transcript_id)
                if record is None:
                    return _error(400, NOT_FOUND_TEXT)
                return JSONResponse(emulator._view(record))

        @app.delete("/v2/transcript/{transcript_id}")
        async def delete(transcript_id: str) -> Response:
            with emulator._lock:
                record = emulator._transcripts.get(transcript_id)
                if record is None:
                    return _error(400, NOT_FOUND_TEXT)
                record.deleted = True
                record.params["audio_url"] = "http://deleted_by_user"
                return JSONResponse(emulator._view(record))

        @app.get("/v2/transcript/{transcript_id}/redacted-audio")
        async def redacted_audio(transcript_id: str) -> Response:
            with emulator._lock:
                record = emulator._transcripts.get(transcript_id)
                if record is None:
                    return _error(400, NOT_FOUND_TEXT)
                status = emulator._status(record)
                if status in ("queued", "processing"):
                    return _error(400, PENDING_TEXT)
                if status == "error":
                    return _error(400, FAILED_TRANSCRIPT_TEXT)
                if record.deleted or not record.params.get("redact_pii_audio"):
                    return _error(400, NOT_REQUESTED_TEXT)
                if not renders_redacted_audio(_model_used(record.params)):  # see testing/models.py
                    return _error(400, NOT_REQUESTED_TEXT)
                if record.expired:
                    return _error(400, EXPIRED_TEXT)
                completed_at = record.completed_at or record.created
                if time.time() - completed_at < record.faults.render_seconds:
                    return Response(status_code=202)
                if record.faults.render_polls > 0:
                    record.faults.render_polls -= 1
                    return Response(status_code=202)
                url = emulator._mint_url(record)
            return JSONResponse({"status": "redacted_audio_ready", "redacted_audio_url": url})

        @app.get("/v2/transcript/{transcript_id}/{fmt}")
        async def subtitles_of(
            transcript_id: str, fmt: str, chars_per_caption: int | None = None
        ) -> Response:
            if fmt not in ("srt", "vtt"):
                return _error(404, "Not found.")
            with emulator._lock:
                record = emulator._transcripts.get(transcript_id)
                if record is None:
                    return _error(400, NOT_FOUND_TEXT)
                if emulator._status(record) != "completed":
                    return _error(400, SUBTITLES_NOT_READY_TEXT)
                words = emulator._view(record)["words"] or []
            text = subtitles(words, fmt, chars_per_caption or DEFAULT_CHARS_PER_CAPTION)
            return Response(text, media_type="text/plain")

        @app.head("/_files/{name}")
        async def head_file(name: str) -> Response:
            return Response(status_code=403, media_type="application/xml")

        @app.get("/_files/{name}")
        async def download(name: str, request: Request) -> Response:
            return emulator._download(name, request)

        # -- control ---------------------------------------------------------------------------

        @app.post("/_emulator/transcripts")
        async def seed(request: Request) -> Response:
            body = await request.json()
            tid = emulator.add_transcript(
                status=body.get("status", "completed"),
                params=body.get("params"),
                faults=Faults(**body.get("faults", {})),
            )
            return JSONResponse({"id": tid})

        @app.post("/_emulator/transcripts/{transcript_id}/finish")
        async def finish(transcript_id: str) -> Response:
            emulator.finish(transcript_id)
            return JSONResponse({"ok": True})

        @app.post("/_emulator/completion-profile")
        async def completion_profile(request: Request) -> Response:
            body = await request.json()
            schedule = emulator.add_completion_profile(
                waited=int(body["waited"]),
                unwaited=body.get("unwaited"),
                window_seconds=float(body.get("window_seconds", 600.0)),
                render_seconds=(
                    float(body.get("render_min_seconds", 5.0)),
                    float(body.get("render_max_seconds", 30.0)),
                ),
                seed=int(body.get("seed", 0)),
            )
            return JSONResponse({"transcripts": [dataclasses.asdict(item) for item in schedule]})

        @app.put("/_emulator/transcripts/{transcript_id}/faults")
        async def put_faults(transcript_id: str, request: Request) -> Response:
            emulator.set_faults(transcript_id, Faults(**await request.json()))
            return JSONResponse({"ok": True})

        @app.put("/_emulator/next-faults")
        async def put_next_faults(request: Request) -> Response:
            body = await request.json()
            emulator.next_faults = Faults(**body) if body else None
            return JSONResponse({"ok": True})

        @app.post("/_emulator/queue-responses")
        async def queue(request: Request) -> Response:
            body = await request.json()
            emulator.queue_responses(list(body["statuses"]), body.get("retry_after"))
            return JSONResponse({"ok": True})

        @app.get("/_emulator/requests")
        async def requests_log() -> Response:
            with emulator._lock:
                return JSONResponse([dataclasses.asdict(r) for r in emulator.requests])

        @app.get("/_emulator/stats")
        async def stats() -> Response:
            with emulator._lock:
                counts: dict[str, int] = {}
                api_counts = {"list": 0, "transcript": 0, "redacted_audio": 0, "other": 0}
                for r in emulator.requests:
                    counts[r.kind] = counts.get(r.kind, 0) + 1
                    if r.kind == "api":
                        api_counts[_api_kind(r.method, r.path)] += 1
                return JSONResponse(
                    {
                        "connections_seen": len(emulator._clients),
                        "requests": counts,
                        "api_requests": api_counts,
                        "violations": list(emulator.violations),
                        "transcripts": len(emulator._transcripts),
                    }
                )

        @app.get("/_emulator/transcripts/{transcript_id}/redacted-audio")
        async def control_audio(transcript_id: str) -> Response:
            path = emulator.redacted_audio_path(transcript_id)
            return StreamingResponse(
                _iter_file(path, 0, path.stat().st_size), media_type="application/octet-stream"
            )

        @app.post("/_emulator/reset")
        async def reset() -> Response:
            emulator.reset()
            return JSONResponse({"ok": True})

        return app

    def _list(self, request: Request) -> Response:
        """Answer ``GET /v2/transcript``: newest first, ``before_id``/``after_id`` paging, filters."""
        query = request.query_params
        try:
            limit = int(query.get("limit", "10"))
        except ValueError:
            return _error(400, "limit must be an integer.")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            return _error(400, f"limit must be between 1 and {MAX_LIST_LIMIT}.")
        wanted_status = query.get("status")
        if wanted_status is not None and wanted_status not in ("queued", "processing", "completed", "error"):
            return _error(
                400, f"status must be one of queued, processing, completed, error, got {wanted_status}."
            )
        created_on = query.get("created_on")
        before_id, after_id = query.get("before_id"), query.get("after_id")
        with self._lock:
            newest_first = list(self._transcripts.values())[::-1]
            positions = {r.id: i for i, r in enumerate(newest_first)}
            for anchor in (before_id, after_id):
                if anchor is not None and anchor not in positions:
                    return _error(400, NOT_FOUND_TEXT)

            def matches(r: _Transcript) -> bool:
                return (wanted_status is None or self._status(r) == wanted_status) and (
                    created_on is None or _timestamp(r.created).startswith(created_on)
                )

            # Walk outward from the anchor only as far as the page (plus one row) needs, so deep
            # paging over tens of thousands of transcripts costs a page, not the whole account.
            if after_id is not None:  # newer than the anchor: the ones just above it
                upward = [r for r in reversed(newest_first[: positions[after_id]]) if matches(r)]
                page = upward[:limit][::-1]
                newer = len(upward) > limit
                older = any(matches(r) for r in newest_first[positions[after_id] :])
            else:
                start = positions[before_id] + 1 if before_id is not None else 0
                page, older = [], False
                for r in newest_first[start:]:
                    if not matches(r):
                        continue
                    if len(page) == limit:
                        older = True
                        break
                    page.append(r)
                newer = before_id is not None and any(matches(r) for r in newest_first[:start])
            newer, older = newer and bool(page), older and bool(page)
            rows = [self._list_item(r) for r in page]
        base = f"{self.base_url}/v2/transcript"
        filters = {k: v for k, v in query.items() if k not in ("limit", "before_id", "after_id")}

        def page_url(**anchor: str) -> str:
            return f"{base}?{urlencode({'limit': limit, **filters, **anchor})}"

        details = {
            "limit": limit,
            "result_count": len(rows),
            "current_url": f"{base}?{request.url.query}" if request.url.query else base,
            "prev_url": page_url(before_id=page[-1].id) if older else None,
            "next_url": page_url(after_id=page[0].id) if newer else None,
        }
        return JSONResponse({"page_details": details, "transcripts": rows})

    def _list_item(self, record: _Transcript) -> dict[str, Any]:
        status = self._status(record)
        finished = record.completed_at if status in ("completed", "error") else None
        return {
            "id": record.id,
            "resource_url": f"{self.base_url}/v2/transcript/{record.id}",
            "status": status,
            "created": _timestamp(record.created),
            "completed": _timestamp(finished) if finished is not None else None,
            "audio_url": record.params.get("audio_url"),
            "error": record.faults.error if status == "error" else None,
        }

    def _early_answer(self, request: Request) -> Response | None:
        """Answer auth failures and scripted faults before the route runs."""
        if request.headers.get("authorization") != self.api_key:
            return _error(401, AUTH_ERROR_TEXT)
        with self._lock:
            if self._queued:
                status, retry_after = self._queued.pop(0)
                return _error(status, f"Scripted {status}.", retry_after)
            tid = _transcript_id_of(request.url.path)
            record = self._transcripts.get(tid) if tid else None
            if record is not None and record.faults.api_errors:
                status = record.faults.api_errors.pop(0)
                return _error(status, f"Scripted {status}.", record.faults.retry_after)
        return None

    async def _fetch_source(self, audio_url: str) -> bytes | None:
        """Return the bytes at ``audio_url`` (an upload or a loopback URL), or None when not reachable."""
        prefix = f"{self.base_url}/_uploads/"
        if audio_url.startswith(prefix):
            path = self._uploads.get(audio_url[len(prefix) :])
            return path.read_bytes() if path else None
        if _is_loopback_url(audio_url):
            try:
                async with httpx.AsyncClient(timeout=10) as client:
                    answer = await client.get(audio_url)
                if answer.status_code == 200:
                    return answer.content
            except httpx.HTTPError:
                pass
        return None

    def _source_failure(self, audio_url: str, source: bytes | None) -> str | None:
        """Return the error a strict emulator fails the transcript with; None when it goes ahead.

        A lenient emulator stands a synthesized WAV in for what it cannot fetch or decode.
        """
        if not self.strict:
            return None
        if source is None:
            return DOWNLOAD_ERROR_TEXT.format(url=audio_url)
        media_type = describe_non_audio(source)
        return TRANSCODING_ERROR_TEXT.format(media_type=media_type) if media_type else None

    def _download(self, name: str, request: Request) -> Response:
        query = request.query_params
        with self._lock:
            if "authorization" in request.headers:
                self.violations.append(f"Authorization header sent to the file host for {name}")
                return Response(S3_TWO_AUTHS, status_code=400, media_type="application/xml")
            record = next((r for r in self._transcripts.values() if r.file and r.file.name == name), None)
            try:
                expires = int(query.get("Expires", ""))
            except ValueError:
                expires = 0
            token = query.get("x-amz-security-token", "")
            # Starlette has decoded %2B, %2F and %3D: the signature is checked in its decoded form.
            valid = hmac.compare_digest(query.get("Signature", ""), self._sign(name, expires, token))
            if record is None or record.file is None:
                return Response(S3_DENIED, status_code=403, media_type="application/xml")
            if not valid:
                return _s3_error("SignatureDoesNotMatch")
            if token in self._dead_tokens:
                return _s3_error(self._dead_tokens[token])
            if expires < time.time():
                return Response(S3_EXPIRED, status_code=403, media_type="application/xml")
            faults = record.faults
            if faults.download_statuses:
                return Response(status_code=faults.download_statuses.pop(0))
            if faults.redirect_downloads > 0:
                faults.redirect_downloads -= 1
                return Response(status_code=307, headers={"Location": self._mint_url(record)})
            size = record.file.stat().st_size
            range_header = request.headers.get("range")
            parsed = _parse_range(range_header, size) if range_header else None
            if faults.download_errors or (parsed and parsed[0] > 0 and faults.resume_errors):
                code = (faults.download_errors or faults.resume_errors).pop(0)
                if code in S3_TOKEN_EXPIRY_CODES:
                    self._dead_tokens[token] = code
                return _s3_error(code)
            if faults.substitute_body is not None:
                body = HTML_ERROR_PAGE if faults.substitute_body == "html" else b""
                media = "text/html" if faults.substitute_body == "html" else "binary/octet-stream"
                return Response(body, status_code=200, media_type=media)
            cut: int | None = None
            if faults.cut_download_after is not None and faults.cut_downloads > 0:
                faults.cut_downloads -= 1
                cut = faults.cut_download_after
            short: int | None = None
            if faults.short_body_after is not None and faults.short_bodies > 0:
                faults.short_bodies -= 1
                short = faults.short_body_after
            path, etag, tid = record.file, self._etag(record), record.id
            modified = path.stat().st_mtime - (faults.file_age_seconds or 0.0)
            slow: tuple[int, float] | None = None
            if faults.slow_body_after is not None:
                slow = (faults.slow_body_after, faults.slow_body_delay)
            unknown_length = faults.unknown_length
        if range_header and parsed is None and not unknown_length:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        start, end, status = 0, size - 1, 200
        if parsed is not None and not unknown_length:
            (start, end), status = parsed, 206
        headers = {"Accept-Ranges": "bytes", "Last-Modified": formatdate(modified, usegmt=True)}
        if etag:
            headers["ETag"] = f'"{etag}"'
        if not unknown_length:
            headers["Content-Length"] = str(end - start + 1)
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"

        def count(sent: int) -> None:
            with self._lock:
                self._served[tid] = self._served.get(tid, 0) + sent

        return StreamingResponse(
            _iter_file(path, start, end + 1, cut=cut, short=short, slow=slow, count=count),
            status_code=status,
            headers=headers,
            media_type="binary/octet-stream",
        )

    @staticmethod
    def _etag(record: _Transcript) -> str:
        style = record.faults.etag_style
        if style == "none":
            return ""
        if style == "multipart":
            size = record.file.stat().st_size if record.file else 0
            return f"{record.etag}-{max(1, -(-size // (8 * 1024 * 1024)))}"
        return record.etag


class _CutConnection(Exception):
    """Raised inside a response body to drop the connection mid-stream."""


async def _iter_file(
    path: Path,
    start: int,
    stop: int,
    *,
    cut: int | None = None,
    short: int | None = None,
    slow: tuple[int, float] | None = None,
    count: Callable[[int], None] | None = None,
) -> AsyncIterator[bytes]:
    """Yield ``path[start:stop]``: dropped after ``cut`` bytes, ended early after ``short``, slowed."""
    sent = 0
    with path.open("rb") as handle:
        handle.seek(start)
        position = start
        while position < stop:
            size = min(CHUNK, stop - position)
            if slow is not None and position >= slow[0]:
                size = min(size, SLOW_CHUNK)
                await asyncio.sleep(slow[1])
            elif slow is not None:
                size = min(size, slow[0] - position)
            for limit in (cut, short):
                if limit is not None:
                    size = min(size, max(0, limit - sent))
            if cut is not None and sent >= cut:
                raise _CutConnection
            if short is not None and sent >= short:
                return
            chunk = handle.read(size)
            if not chunk:
                break
            position += len(chunk)
            sent += len(chunk)
            if count is not None:
                count(len(chunk))
            yield chunk


def _is_loopback_url(url: str) -> bool:
    """Return True when ``url`` is http(s) to a loopback host, judged on the parsed URL.

    A prefix test would let ``http://127.0.0.1@elsewhere/`` (userinfo ``127.0.0.1``) or
    ``http://127.0.0.1.elsewhere/`` through to another machine.
    """
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and hostname is not None and is_loopback_host(hostname)


def _s3_error(code: str) -> Response:
    """Answer an S3 XML error with the status that goes with ``code``."""
    status, message = S3_ERRORS.get(code, (400, "Scripted error."))
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return Response(body, status_code=status, media_type="application/xml")


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    if not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[len("bytes=") :].partition("-")
    try:
        if first == "":
            length = int(last)
            return (max(0, size - length), size - 1) if length > 0 else None
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


def _timestamp(epoch: float) -> str:
    """Return the API's timestamp form, ``YYYY-MM-DDTHH:MM:SS.ffffff`` (UTC, no zone)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1e6):06d}"


def _refuse_models(params: dict[str, Any]) -> str | None:
    """Return AssemblyAI's refusal text for the request's model fields, or None when they are fine."""
    if params.get("speech_model") is not None:
        return SINGULAR_MODEL_TEXT
    models = params.get("speech_models")
    if models is None:
        return MISSING_MODELS_TEXT
    if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
        return "speech_models must be a non-empty list of speech model names."
    return chain_refusal(models)


def _model_used(params: dict[str, Any]) -> str:
    """Return the model a transcript ran on: the first of its chain, or a retired one's replacement."""
    return model_used(params.get("speech_models") or ACCEPTED_MODELS)


def _api_kind(method: str, path: str) -> str:
    """Sort an API request for the stats: a list page, a transcript read, a redacted-audio ask."""
    parts = path.strip("/").split("/")
    if method != "GET" or parts[:2] != ["v2", "transcript"]:
        return "other"
    if len(parts) == 2:
        return "list"
    return "redacted_audio" if parts[3:] == ["redacted-audio"] else "transcript"


def _transcript_id_of(path: str) -> str | None:
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "v2" and parts[1] == "transcript":
        return parts[2]
    return None


def _error(status: int, text: str, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None and status == 429 else None
    return JSONResponse({"error": text}, status_code=status, headers=headers)


def _make_server(emulator: Emulator, port: int) -> uvicorn.Server:
    config = uvicorn.Config(emulator.app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    return uvicorn.Server(config)


@contextlib.contextmanager
def run_emulator(
    *,
    api_key: str = "emulator-key",
    processing_seconds: float = 1.0,
    storage_dir: Path | None = None,
    strict: bool = True,
) -> Iterator[Emulator]:
    """Run an emulator in a daemon thread on a free loopback port; yield it once it serves.

    ``strict=False`` makes it lenient: unknown request fields pass, and a synthesized WAV stands in
    for audio it cannot fetch or decode.
    """
    emulator = Emulator(
        api_key=api_key, processing_seconds=processing_seconds, storage_dir=storage_dir, strict=strict
    )
    port = free_port()
    emulator.base_url = f"http://127.0.0.1:{port}"
    server = _make_server(emulator, port)
    thread = threading.Thread(target=server.run, daemon=True, name="assemblyai-emulator")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the AssemblyAI emulator did not start")
        time.sleep(0.02)
    try:
        yield emulator
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        emulator.close()


def main(argv: list[str] | None = None) -> int:
    """Serve the emulator until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", default="emulator-key")
    parser.add_argument("--processing-seconds", type=float, default=1.0)
    parser.add_argument("--storage-dir", type=Path)
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="accept unknown request fields, and stand a tone in for audio it cannot fetch or decode",
    )
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--host must be a loopback address (127.0.0.1, localhost or ::1)")
    port = args.port or free_port()
    emulator = Emulator(
        api_key=args.api_key,
        processing_seconds=args.processing_seconds,
        storage_dir=args.storage_dir,
        strict=not args.lenient,
    )
    emulator.base_url = f"http://127.0.0.1:{port}"
    server = _make_server(emulator, port)
    server.config.host = args.host

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.02)
        if server.started:
            print(f"{EMULATOR_READY}{emulator.base_url}", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    try:
        server.run()
    finally:
        emulator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
