"""The control routes a test or a benchmark drives over HTTP: seed transcripts, script faults, read counters.

They mirror :class:`~airflow_assemblyai.testing.emulator.state.EmulatorState`'s test API under
``/_emulator/``, and ``/_samples/`` serves a generated WAV the emulator can download as ``audio_url``.
"""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from airflow_assemblyai.testing.audio import synth_wav
from airflow_assemblyai.testing.emulator.faults import Faults
from airflow_assemblyai.testing.emulator.file_host import iter_file
from airflow_assemblyai.testing.emulator.state import emulator_of

router = APIRouter()


@router.get("/_samples/{name}")
async def sample(name: str) -> Response:
    """Serve a generated WAV, an ``audio_url`` the emulator can download (``sample_audio_url``)."""
    return Response(synth_wav(), media_type="audio/wav")


@router.post("/_emulator/transcripts")
async def seed(request: Request) -> Response:
    """Seed a transcript (``add_transcript``); answer its id."""
    state = emulator_of(request)
    body = await request.json()
    tid = state.add_transcript(
        status=body.get("status", "completed"),
        params=body.get("params"),
        faults=Faults(**body.get("faults", {})),
    )
    return JSONResponse({"id": tid})


@router.post("/_emulator/transcripts/{transcript_id}/finish")
async def finish(transcript_id: str, request: Request) -> Response:
    """End a seeded queued or processing transcript now (``finish``)."""
    state = emulator_of(request)
    state.finish(transcript_id)
    return JSONResponse({"ok": True})


@router.post("/_emulator/completion-profile")
async def completion_profile(request: Request) -> Response:
    """Seed a completion profile (``add_completion_profile``); answer the waited transcripts."""
    state = emulator_of(request)
    body = await request.json()
    schedule = state.add_completion_profile(
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


@router.put("/_emulator/transcripts/{transcript_id}/faults")
async def put_faults(transcript_id: str, request: Request) -> Response:
    """Replace a transcript's faults (``set_faults``)."""
    state = emulator_of(request)
    state.set_faults(transcript_id, Faults(**await request.json()))
    return JSONResponse({"ok": True})


@router.put("/_emulator/next-faults")
async def put_next_faults(request: Request) -> Response:
    """Set the faults of the next submitted transcripts (an empty body clears them)."""
    state = emulator_of(request)
    body = await request.json()
    state.next_faults = Faults(**body) if body else None
    return JSONResponse({"ok": True})


@router.post("/_emulator/queue-responses")
async def queue(request: Request) -> Response:
    """Answer the next API requests with these statuses (``queue_responses``)."""
    state = emulator_of(request)
    body = await request.json()
    state.queue_responses(list(body["statuses"]), body.get("retry_after"))
    return JSONResponse({"ok": True})


@router.get("/_emulator/requests")
async def requests_log(request: Request) -> Response:
    """Return every recorded request."""
    state = emulator_of(request)
    with state.lock:
        return JSONResponse([dataclasses.asdict(r) for r in state.requests])


@router.get("/_emulator/stats")
async def stats(request: Request) -> Response:
    """Return the counters: connections, requests by kind and API requests by kind, violations."""
    state = emulator_of(request)
    with state.lock:
        counts: dict[str, int] = {}
        api_counts = {"list": 0, "transcript": 0, "redacted_audio": 0, "other": 0}
        for r in state.requests:
            counts[r.kind] = counts.get(r.kind, 0) + 1
            if r.kind == "api":
                api_counts[_api_kind(r.method, r.path)] += 1
        return JSONResponse(
            {
                "connections_seen": len(state.clients),
                "requests": counts,
                "api_requests": api_counts,
                "violations": list(state.violations),
                "transcripts": len(state.transcripts),
            }
        )


@router.get("/_emulator/transcripts/{transcript_id}/redacted-audio")
async def control_audio(transcript_id: str, request: Request) -> Response:
    """Stream a transcript's redacted file, without a signed URL (for checks)."""
    state = emulator_of(request)
    path = state.redacted_audio_path(transcript_id)
    return StreamingResponse(iter_file(path, 0, path.stat().st_size), media_type="application/octet-stream")


@router.post("/_emulator/reset")
async def reset(request: Request) -> Response:
    """Forget every transcript, upload, request and scripted fault (``reset``)."""
    state = emulator_of(request)
    state.reset()
    return JSONResponse({"ok": True})


def _api_kind(method: str, path: str) -> str:
    """Sort an API request for the stats: a list page, a transcript read, a redacted-audio ask."""
    parts = path.strip("/").split("/")
    if method != "GET" or parts[:2] != ["v2", "transcript"]:
        return "other"
    if len(parts) == 2:
        return "list"
    return "redacted_audio" if parts[3:] == ["redacted-audio"] else "transcript"
