"""The AssemblyAI v2 routes: upload, transcript submit, get, list and delete, redacted audio, subtitles.

Every ``/v2/`` request first passes :func:`early_answer` (the API key, then any scripted status).
"""

from __future__ import annotations

import copy
import dataclasses
import time
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from airflow_assemblyai.hooks.settings import is_loopback_host
from airflow_assemblyai.redaction import DELETED_AUDIO_URL, NOT_FOUND_TEXT, NOT_REQUESTED_TEXT, PENDING_TEXT
from airflow_assemblyai.testing.audio import describe_non_audio, synth_wav
from airflow_assemblyai.testing.emulator.faults import Faults
from airflow_assemblyai.testing.emulator.file_host import mint_url
from airflow_assemblyai.testing.emulator.rules import (
    AUTH_ERROR_TEXT,
    DOWNLOAD_ERROR_TEXT,
    EXPIRED_TEXT,
    FAILED_TRANSCRIPT_TEXT,
    KNOWN_REQUEST_FIELDS,
    SUBTITLES_NOT_READY_TEXT,
    TRANSCODING_ERROR_TEXT,
    model_used,
    refuse_models,
)
from airflow_assemblyai.testing.emulator.state import TranscriptRecord, emulator_of
from airflow_assemblyai.testing.emulator.views import api_error, list_page, transcript_view
from airflow_assemblyai.testing.models import renders_redacted_audio
from airflow_assemblyai.testing.transcript import DEFAULT_CHARS_PER_CAPTION, subtitles

if TYPE_CHECKING:
    from airflow_assemblyai.testing.emulator.state import EmulatorState

router = APIRouter()


@router.post("/v2/upload")
async def upload(request: Request) -> Response:
    """Store the request body as a file; answer its ``upload_url``."""
    state = emulator_of(request)
    upload_id = uuid.uuid4().hex
    path = state.storage / f"upload-{upload_id}"
    with path.open("wb") as out:
        async for chunk in request.stream():
            out.write(chunk)
    with state.lock:
        state.uploads[upload_id] = path
    return JSONResponse({"upload_url": f"{state.base_url}/_uploads/{upload_id}"})


@router.post("/v2/transcript")
async def submit(request: Request) -> Response:
    """Validate a transcript request as AssemblyAI does, fetch its audio, and queue the transcript."""
    state = emulator_of(request)
    try:
        params = await request.json()
    except ValueError:
        return api_error(400, "Invalid JSON body.")
    with state.lock:
        state.submissions.append(copy.deepcopy(params))  # as received, whatever happens next
    if not isinstance(params, dict) or not params.get("audio_url"):
        return api_error(400, "audio_url is required.")
    refusal = refuse_models(params)
    if refusal:
        return api_error(400, refusal)
    if params.get("redact_pii") and not params.get("redact_pii_policies"):
        return api_error(400, "redact_pii_policies is required when redact_pii is true.")
    if params.get("redact_pii_audio") and not params.get("redact_pii"):
        return api_error(400, "redact_pii must be true when redact_pii_audio is true.")
    quality = params.get("redact_pii_audio_quality")
    if quality is not None and quality not in ("mp3", "wav"):
        return api_error(400, "redact_pii_audio_quality must be one of mp3, wav.")
    unknown = sorted(set(params) - KNOWN_REQUEST_FIELDS) if state.strict else []
    if unknown:
        return api_error(
            400, f"Invalid request: unknown field(s) {', '.join(unknown)}; check their spelling."
        )
    audio_url = str(params["audio_url"])
    fetched = await _fetch_source(state, audio_url)
    failure = _source_failure(state, audio_url, fetched)
    source = fetched if fetched is not None and failure is None else synth_wav()
    with state.lock:
        faults = dataclasses.replace(state.next_faults) if state.next_faults else Faults()
        if failure and faults.error is None:
            faults.error = failure
        faults.api_errors = list(faults.api_errors)
        faults.download_statuses = list(faults.download_statuses)
        record = TranscriptRecord(
            id=str(uuid.uuid4()), params=params, faults=faults, created=time.time(), source=source
        )
        state.transcripts[record.id] = record
        return JSONResponse(transcript_view(state, record))


@router.get("/v2/transcript")
async def listing(request: Request) -> Response:
    """List transcripts, newest first."""
    state = emulator_of(request)
    return list_page(state, request)


@router.get("/v2/transcript/{transcript_id}")
async def get_transcript(transcript_id: str, request: Request) -> Response:
    """Return a transcript."""
    state = emulator_of(request)
    with state.lock:
        record = state.transcripts.get(transcript_id)
        if record is None:
            return api_error(400, NOT_FOUND_TEXT)
        return JSONResponse(transcript_view(state, record))


@router.delete("/v2/transcript/{transcript_id}")
async def delete(transcript_id: str, request: Request) -> Response:
    """Delete a transcript's content, keeping its id known (a second delete succeeds)."""
    state = emulator_of(request)
    with state.lock:
        record = state.transcripts.get(transcript_id)
        if record is None:
            return api_error(400, NOT_FOUND_TEXT)
        record.deleted = True
        record.params["audio_url"] = DELETED_AUDIO_URL
        return JSONResponse(transcript_view(state, record))


@router.get("/v2/transcript/{transcript_id}/redacted-audio")
async def redacted_audio(transcript_id: str, request: Request) -> Response:
    """Answer 400 before completion, 202 while rendering, then a freshly signed URL of the file."""
    state = emulator_of(request)
    with state.lock:
        record = state.transcripts.get(transcript_id)
        if record is None:
            return api_error(400, NOT_FOUND_TEXT)
        status = state.status_of(record)
        if status in ("queued", "processing"):
            return api_error(400, PENDING_TEXT)
        if status == "error":
            return api_error(400, FAILED_TRANSCRIPT_TEXT)
        if record.deleted or not record.params.get("redact_pii_audio"):
            return api_error(400, NOT_REQUESTED_TEXT)
        if not renders_redacted_audio(model_used(record.params)):  # see testing/models.py
            return api_error(400, NOT_REQUESTED_TEXT)
        if record.expired:
            return api_error(400, EXPIRED_TEXT)
        completed_at = record.completed_at or record.created
        if time.time() - completed_at < record.faults.render_seconds:
            return Response(status_code=202)
        if record.faults.render_polls > 0:
            record.faults.render_polls -= 1
            return Response(status_code=202)
        url = mint_url(state, record)
    return JSONResponse({"status": "redacted_audio_ready", "redacted_audio_url": url})


@router.get("/v2/transcript/{transcript_id}/{fmt}")
async def subtitles_of(
    transcript_id: str, fmt: str, request: Request, chars_per_caption: int | None = None
) -> Response:
    """Return a completed transcript's captions as SRT or VTT."""
    state = emulator_of(request)
    if fmt not in ("srt", "vtt"):
        return api_error(404, "Not found.")
    with state.lock:
        record = state.transcripts.get(transcript_id)
        if record is None:
            return api_error(400, NOT_FOUND_TEXT)
        if state.status_of(record) != "completed":
            return api_error(400, SUBTITLES_NOT_READY_TEXT)
        words = transcript_view(state, record)["words"] or []
    text = subtitles(words, fmt, chars_per_caption or DEFAULT_CHARS_PER_CAPTION)
    return Response(text, media_type="text/plain")


def early_answer(state: EmulatorState, request: Request) -> Response | None:
    """Answer auth failures and scripted faults before the route runs."""
    if request.headers.get("authorization") != state.api_key:
        return api_error(401, AUTH_ERROR_TEXT)
    with state.lock:
        if state.queued:
            status, retry_after = state.queued.pop(0)
            return api_error(status, f"Scripted {status}.", retry_after)
        tid = transcript_id_of(request.url.path)
        record = state.transcripts.get(tid) if tid else None
        if record is not None and record.faults.api_errors:
            status = record.faults.api_errors.pop(0)
            return api_error(status, f"Scripted {status}.", record.faults.retry_after)
    return None


async def _fetch_source(state: EmulatorState, audio_url: str) -> bytes | None:
    """Return the bytes at ``audio_url`` (an upload or a loopback URL), or None when not reachable."""
    prefix = f"{state.base_url}/_uploads/"
    if audio_url.startswith(prefix):
        path = state.uploads.get(audio_url[len(prefix) :])
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


def _source_failure(state: EmulatorState, audio_url: str, source: bytes | None) -> str | None:
    """Return the error a strict emulator fails the transcript with; None when it goes ahead.

    A lenient emulator stands a synthesized WAV in for what it cannot fetch or decode.
    """
    if not state.strict:
        return None
    if source is None:
        return DOWNLOAD_ERROR_TEXT.format(url=audio_url)
    media_type = describe_non_audio(source)
    return TRANSCODING_ERROR_TEXT.format(media_type=media_type) if media_type else None


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


def transcript_id_of(path: str) -> str | None:
    """Return the transcript id in a ``/v2/transcript/{id}...`` path, or None."""
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "v2" and parts[1] == "transcript":
        return parts[2]
    return None
