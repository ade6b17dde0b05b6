"""The shapes of the API's answers: a transcript, and a page of the transcript list."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi.responses import JSONResponse, Response

from airflow_assemblyai.redaction import NOT_FOUND_TEXT
from airflow_assemblyai.testing.audio import read_mono_pcm
from airflow_assemblyai.testing.emulator.rules import DELETED_TEXT, MAX_LIST_LIMIT, model_used
from airflow_assemblyai.testing.transcript import transcript_fields

if TYPE_CHECKING:
    from fastapi import Request

    from airflow_assemblyai.testing.emulator.state import EmulatorState, TranscriptRecord


def transcript_view(state: EmulatorState, record: TranscriptRecord) -> dict[str, Any]:
    """Return a transcript as ``GET /v2/transcript/{id}`` does, in the shapes of AssemblyAI's spec."""
    status = state.status_of(record)
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
        duration = source_duration(record)
        content = (
            {"text": DELETED_TEXT, "words": [], "utterances": None}
            if record.deleted
            else transcript_fields(duration, params, shift_ms=record.faults.word_shift_ms)
        )
        body.update(
            content,
            confidence=0.9,
            audio_duration=round(duration),
            language_confidence=None if params.get("language_code") else 0.99,
            speech_model_used=model_used(params),
        )
    elif status == "error":
        body["error"] = record.faults.error
    return body


def source_duration(record: TranscriptRecord) -> float:
    """Return the source's length in seconds (3.0 when it is not a WAV the emulator decodes)."""
    decoded = read_mono_pcm(record.source)
    return len(decoded[0]) / 2 / decoded[1] if decoded else 3.0


def list_page(state: EmulatorState, request: Request) -> Response:
    """Answer ``GET /v2/transcript``: newest first, ``before_id``/``after_id`` paging, filters."""
    query = request.query_params
    try:
        limit = int(query.get("limit", "10"))
    except ValueError:
        return api_error(400, "limit must be an integer.")
    if not 1 <= limit <= MAX_LIST_LIMIT:
        return api_error(400, f"limit must be between 1 and {MAX_LIST_LIMIT}.")
    wanted_status = query.get("status")
    if wanted_status is not None and wanted_status not in ("queued", "processing", "completed", "error"):
        return api_error(
            400, f"status must be one of queued, processing, completed, error, got {wanted_status}."
        )
    created_on = query.get("created_on")
    before_id, after_id = query.get("before_id"), query.get("after_id")
    with state.lock:
        newest_first = list(state.transcripts.values())[::-1]
        positions = {r.id: i for i, r in enumerate(newest_first)}
        for anchor in (before_id, after_id):
            if anchor is not None and anchor not in positions:
                return api_error(400, NOT_FOUND_TEXT)

        def matches(r: TranscriptRecord) -> bool:
            return (wanted_status is None or state.status_of(r) == wanted_status) and (
                created_on is None or timestamp(r.created).startswith(created_on)
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
        rows = [list_item(state, r) for r in page]
    base = f"{state.base_url}/v2/transcript"
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


def list_item(state: EmulatorState, record: TranscriptRecord) -> dict[str, Any]:
    """Return a transcript as a row of ``GET /v2/transcript``."""
    status = state.status_of(record)
    finished = record.completed_at if status in ("completed", "error") else None
    return {
        "id": record.id,
        "resource_url": f"{state.base_url}/v2/transcript/{record.id}",
        "status": status,
        "created": timestamp(record.created),
        "completed": timestamp(finished) if finished is not None else None,
        "audio_url": record.params.get("audio_url"),
        "error": record.faults.error if status == "error" else None,
    }


def timestamp(epoch: float) -> str:
    """Return the API's timestamp form, ``YYYY-MM-DDTHH:MM:SS.ffffff`` (UTC, no zone)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1e6):06d}"


def api_error(status: int, text: str, retry_after: int | None = None) -> Response:
    """Answer the API's error body, ``{"error": text}`` (with ``Retry-After`` on a 429)."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None and status == 429 else None
    return JSONResponse({"error": text}, status_code=status, headers=headers)
