"""The :class:`Emulator`: its state and a FastAPI app of the three routers, served by uvicorn."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI, Request

from airflow_assemblyai.testing.emulator import api, control, file_host
from airflow_assemblyai.testing.emulator.state import EmulatorState, RecordedRequest, emulator_of
from airflow_assemblyai.testing.loopback import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fastapi.responses import Response


class Emulator(EmulatorState):
    """State and FastAPI app of the emulator; thread-safe."""

    def __init__(
        self,
        *,
        api_key: str = "emulator-key",
        processing_seconds: float = 1.0,
        storage_dir: Path | None = None,
        strict: bool = True,
    ) -> None:
        super().__init__(
            api_key=api_key, processing_seconds=processing_seconds, storage_dir=storage_dir, strict=strict
        )
        self.app = build_app(self)


def build_app(emulator: EmulatorState) -> FastAPI:
    """Return the emulator's app: the API, file-host and control routers behind a recording middleware."""
    app = FastAPI(title="AssemblyAI v2 emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.emulator = emulator
    app.include_router(api.router)
    app.include_router(file_host.router)
    app.include_router(control.router)
    app.middleware("http")(record_request)
    return app


async def record_request(request: Request, call_next: Any) -> Response:
    """Record every request; answer an API request's auth failure or scripted fault first."""
    emulator = emulator_of(request)
    path = request.url.path
    kind = "api" if path.startswith("/v2/") else "download" if path.startswith("/_files/") else "control"
    if path.startswith("/_uploads/"):
        kind = "upload_fetch"
    client = request.client
    with emulator.lock:
        if client:
            emulator.clients.add((client.host, client.port))
    if kind == "api":
        early = api.early_answer(emulator, request)
        if early is not None:
            response: Response = early
        else:
            response = await call_next(request)
    else:
        response = await call_next(request)
    with emulator.lock:
        emulator.requests.append(
            RecordedRequest(
                method=request.method,
                path=path,
                query=dict(request.query_params),
                headers={k.lower(): v for k, v in request.headers.items()},
                status=response.status_code,
                transcript_id=request.path_params.get("transcript_id") or api.transcript_id_of(path),
                kind=kind,
            )
        )
    return response


def make_server(emulator: Emulator, port: int) -> uvicorn.Server:
    """Return a uvicorn server of the emulator's app on 127.0.0.1:``port`` (not started)."""
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
    server = make_server(emulator, port)
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
