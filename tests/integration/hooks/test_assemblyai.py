"""AssemblyAIHook against real servers on 127.0.0.1: the emulator, and raw sockets that misbehave."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk._shared.secrets_masker import redact

from airflow_assemblyai.exceptions import (
    AssemblyAIAuthError,
    AssemblyAIFinalError,
    AssemblyAIRequestError,
    AssemblyAITransientError,
    RedactedAudioExpiredError,
    RedactionNotRequestedError,
    TranscriptFailedError,
    TranscriptNotFoundError,
)
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.redaction import RedactionPoll
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.testing.loopback import assemblyai_connection_env
from tests.support import FAST_RETRIES, REDACT, WAV, set_env


def use_connection(monkeypatch: pytest.MonkeyPatch, host: str, api_key: str, **extra: Any) -> None:
    env = assemblyai_connection_env(api_key=api_key, base_url=host, **{**FAST_RETRIES, **extra})
    set_env(monkeypatch, env)


@pytest.fixture
def hook(assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[AssemblyAIHook]:
    use_connection(monkeypatch, assemblyai_emulator.base_url, assemblyai_emulator.api_key)
    hook = AssemblyAIHook()
    yield hook
    hook.close()


def api_requests(emulator: Emulator, method: str, path: str) -> int:
    return sum(1 for r in emulator.requests if r.method == method and r.path == path and r.kind == "api")


# -- status paths -------------------------------------------------------------------------------


def test_submit_echoes_the_redaction_fields(assemblyai_emulator: Emulator, hook: AssemblyAIHook) -> None:
    params = {**REDACT, "redact_pii_audio_quality": "wav", "redact_pii_sub": "entity_name"}
    transcript = hook.submit_transcript(f"{assemblyai_emulator.base_url}/nowhere.wav", **params)
    assert transcript["status"] == "queued"
    fetched = hook.get_transcript(transcript["id"])
    for name, value in params.items():
        assert fetched[name] == value


def test_poll_waits_through_queued_and_processing_then_is_ready(
    assemblyai_emulator: Emulator, hook: AssemblyAIHook
) -> None:
    assemblyai_emulator.next_faults = Faults(processing_seconds=0.6)
    transcript_id = hook.submit_transcript(assemblyai_emulator.sample_audio_url, **REDACT)["id"]
    seen: list[RedactionPoll] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        verdict = hook.poll_redacted_audio(transcript_id)
        seen.append(verdict)
        if verdict.ready:
            break
        time.sleep(0.05)
    assert seen[-1].ready
    assert seen[-1].audio_format == "mp3"
    assert {v.reason for v in seen[:-1]} <= {"queued", "processing"}
    assert seen[0].state == "waiting"


def test_rendering_audio_is_a_wait(assemblyai_emulator: Emulator, hook: AssemblyAIHook) -> None:
    tid = assemblyai_emulator.add_transcript(
        status="completed", params=REDACT, faults=Faults(render_seconds=60)
    )
    verdict = hook.poll_redacted_audio(tid)
    assert verdict.state == "waiting"
    assert verdict.reason == "rendering redacted audio"
    assert not hook.get_redacted_audio(tid).ready


def test_in_progress_400_is_pending_not_an_error(assemblyai_emulator: Emulator, hook: AssemblyAIHook) -> None:
    tid = assemblyai_emulator.add_transcript(status="processing", params=REDACT)
    assert not hook.get_redacted_audio(tid).ready


def test_ready_url_is_fresh_every_time_and_masked(
    assemblyai_emulator: Emulator, hook: AssemblyAIHook
) -> None:
    tid = assemblyai_emulator.add_transcript(status="completed", params=WAV)
    first, second = hook.get_redacted_audio(tid), hook.get_redacted_audio(tid)
    assert first.ready
    assert first.url
    assert second.url
    assert first.url != second.url
    assert first.url not in repr(first)
    assert redact(f"downloading {first.url}") == "downloading ***"
    assert hook.poll_redacted_audio(tid).audio_format == "wav"


def test_failed_transcript_fails_with_its_text(assemblyai_emulator: Emulator, hook: AssemblyAIHook) -> None:
    tid = assemblyai_emulator.add_transcript(
        status="error", params=REDACT, faults=Faults(error="Audio file is empty")
    )
    with pytest.raises(TranscriptFailedError, match="Audio file is empty"):
        hook.poll_redacted_audio(tid)


def test_redaction_never_requested_is_final(assemblyai_emulator: Emulator, hook: AssemblyAIHook) -> None:
    tid = assemblyai_emulator.add_transcript(status="completed", params={"redact_pii": False})
    with pytest.raises(RedactionNotRequestedError):
        hook.get_redacted_audio(tid)
    with pytest.raises(RedactionNotRequestedError):
        hook.poll_redacted_audio(tid)


def test_unknown_transcript_is_final_without_retry(
    assemblyai_emulator: Emulator, hook: AssemblyAIHook
) -> None:
    with pytest.raises(TranscriptNotFoundError):
        hook.get_redacted_audio("no-such-transcript")
    with pytest.raises(TranscriptNotFoundError):
        hook.get_transcript("no-such-transcript")
    assert api_requests(assemblyai_emulator, "GET", "/v2/transcript/no-such-transcript") == 1


def test_expired_audio_is_final(assemblyai_emulator: Emulator, hook: AssemblyAIHook) -> None:
    tid = assemblyai_emulator.add_transcript(status="completed", params=REDACT)
    assemblyai_emulator.expire(tid)
    with pytest.raises(RedactedAudioExpiredError, match="24 hours"):
        hook.get_redacted_audio(tid)


def test_delete_twice_succeeds_and_unknown_id_fails(
    assemblyai_emulator: Emulator, hook: AssemblyAIHook
) -> None:
    tid = assemblyai_emulator.add_transcript(status="completed", params=REDACT)
    hook.delete_transcript(tid)
    hook.delete_transcript(tid)
    assert assemblyai_emulator.deleted(tid)
    with pytest.raises(AssemblyAIFinalError):
        hook.delete_transcript("never-existed")


# -- retries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("statuses", [[408], [429], [500], [502], [503], [504], [429, 503], [408, 408]])
def test_passing_faults_are_retried(
    assemblyai_emulator: Emulator, hook: AssemblyAIHook, statuses: list[int]
) -> None:
    tid = assemblyai_emulator.add_transcript(status="completed", params=REDACT)
    assemblyai_emulator.set_faults(tid, Faults(api_errors=list(statuses), retry_after=0))
    assert hook.get_transcript(tid)["id"] == tid
    assert api_requests(assemblyai_emulator, "GET", f"/v2/transcript/{tid}") == len(statuses) + 1


def test_retries_stop_at_the_budget(assemblyai_emulator: Emulator, hook: AssemblyAIHook) -> None:
    tid = assemblyai_emulator.add_transcript(status="completed", params=REDACT)
    assemblyai_emulator.set_faults(tid, Faults(api_errors=[503] * 10))
    with pytest.raises(AssemblyAITransientError, match="HTTP 503"):
        hook.get_transcript(tid)
    assert api_requests(assemblyai_emulator, "GET", f"/v2/transcript/{tid}") == FAST_RETRIES["max_attempts"]


def test_retry_after_is_honoured_up_to_the_cap(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    use_connection(monkeypatch, assemblyai_emulator.base_url, assemblyai_emulator.api_key, retry_wait_max=0.2)
    tid = assemblyai_emulator.add_transcript(status="completed", params=REDACT)
    assemblyai_emulator.set_faults(tid, Faults(api_errors=[429, 429], retry_after=30))
    AssemblyAIHook().get_transcript(tid)
    logged = "".join(capfd.readouterr())
    assert "HTTP 429" in logged
    assert logged.count("retrying in 0.2 s") == 2  # capped at retry_wait_max, not the 30 s asked


def test_retry_after_below_the_cap_is_used_as_given(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    use_connection(monkeypatch, assemblyai_emulator.base_url, assemblyai_emulator.api_key, retry_wait_max=60)
    tid = assemblyai_emulator.add_transcript(status="completed", params=REDACT)
    assemblyai_emulator.set_faults(tid, Faults(api_errors=[429], retry_after=1))
    AssemblyAIHook().get_transcript(tid)
    assert "retrying in 1.0 s" in "".join(capfd.readouterr())


@pytest.mark.parametrize("status", [401, 403, 400, 404])
def test_client_errors_are_never_retried(
    assemblyai_emulator: Emulator, hook: AssemblyAIHook, status: int
) -> None:
    tid = assemblyai_emulator.add_transcript(status="completed", params=REDACT)
    assemblyai_emulator.set_faults(tid, Faults(api_errors=[status]))
    with pytest.raises(AssemblyAIRequestError) as info:
        hook.get_transcript(tid)
    assert info.value.http_status == status
    assert isinstance(info.value, AssemblyAIFinalError)
    assert api_requests(assemblyai_emulator, "GET", f"/v2/transcript/{tid}") == 1


def test_wrong_key_fails_at_once_and_never_shows_the_key(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    wrong_key = "wrong-key-that-must-not-leak-42"
    use_connection(monkeypatch, assemblyai_emulator.base_url, wrong_key)
    with pytest.raises(AssemblyAIAuthError) as info:
        AssemblyAIHook().list_transcripts()
    assert wrong_key not in str(info.value)
    assert wrong_key not in repr(info.value)
    assert wrong_key not in "".join(capfd.readouterr())
    assert api_requests(assemblyai_emulator, "GET", "/v2/transcript") == 1


def test_submit_is_not_repeated_after_it_reached_the_server(
    assemblyai_emulator: Emulator, hook: AssemblyAIHook
) -> None:
    assemblyai_emulator.queue_responses([503])
    with pytest.raises(AssemblyAITransientError):
        hook.submit_transcript("https://example.invalid/a.wav", **REDACT)
    assert api_requests(assemblyai_emulator, "POST", "/v2/transcript") == 1


def test_a_408_is_retried_for_reads_and_deletes_but_never_for_posts(
    assemblyai_emulator: Emulator, hook: AssemblyAIHook, tmp_path: Path
) -> None:
    tid = assemblyai_emulator.add_transcript(status="completed", params=REDACT)
    assemblyai_emulator.set_faults(tid, Faults(api_errors=[408, 408]))
    assert hook.get_redacted_audio(tid).ready
    assert api_requests(assemblyai_emulator, "GET", f"/v2/transcript/{tid}/redacted-audio") == 3
    assemblyai_emulator.set_faults(tid, Faults(api_errors=[408]))
    hook.delete_transcript(tid)
    assert assemblyai_emulator.deleted(tid)
    assert api_requests(assemblyai_emulator, "DELETE", f"/v2/transcript/{tid}") == 2

    assemblyai_emulator.queue_responses([408])
    with pytest.raises(AssemblyAITransientError, match="HTTP 408"):
        hook.submit_transcript("https://example.invalid/a.wav", **REDACT)
    assert api_requests(assemblyai_emulator, "POST", "/v2/transcript") == 1
    assemblyai_emulator.queue_responses([408])
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF")
    with pytest.raises(AssemblyAITransientError, match="HTTP 408"):
        hook.upload_file(audio)
    assert api_requests(assemblyai_emulator, "POST", "/v2/upload") == 1


def test_submit_is_repeated_after_a_429(assemblyai_emulator: Emulator, hook: AssemblyAIHook) -> None:
    assemblyai_emulator.queue_responses([429], retry_after=0)
    transcript = hook.submit_transcript("https://example.invalid/a.wav", **REDACT)
    assert transcript["status"] == "queued"
    assert api_requests(assemblyai_emulator, "POST", "/v2/transcript") == 2


class MisbehavingServer:
    """A TCP server on 127.0.0.1 that drops each connection at once, or never answers."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.recv(65536)
            if self.mode == "drop":
                conn.close()
            else:
                self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._held:
            conn.close()
        self._sock.close()


@pytest.mark.parametrize("mode", ["drop", "silent"])
def test_dropped_connections_and_timeouts_are_retried(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    server = MisbehavingServer(mode)
    try:
        use_connection(monkeypatch, server.url, "k")
        hook = AssemblyAIHook(timeout=0.3)
        with pytest.raises(AssemblyAITransientError, match=r"RemoteProtocolError|ReadTimeout"):
            hook.get_transcript("t1")
        assert server.connections == FAST_RETRIES["max_attempts"]
    finally:
        server.close()


def test_a_dropped_submit_is_not_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    server = MisbehavingServer("drop")
    try:
        use_connection(monkeypatch, server.url, "k")
        with pytest.raises(AssemblyAITransientError):
            AssemblyAIHook().submit_transcript("https://example.invalid/a.wav", **REDACT)
        assert server.connections == 1
    finally:
        server.close()


# -- test_connection and upload ----------------------------------------------------------------------


def test_test_connection_ok(hook: AssemblyAIHook) -> None:
    ok, message = hook.test_connection()
    assert ok, message


def test_test_connection_wrong_key(assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, assemblyai_emulator.base_url, "not-the-key")
    ok, message = AssemblyAIHook().test_connection()
    assert not ok
    assert "refused the API key" in message
    assert "not-the-key" not in message


def test_test_connection_unreachable_host(monkeypatch: pytest.MonkeyPatch) -> None:
    server = MisbehavingServer("drop")
    url = server.url
    server.close()  # nothing listens there any more
    use_connection(monkeypatch, url, "k", max_attempts=2)
    ok, message = AssemblyAIHook().test_connection()
    assert not ok
    assert "could not be reached" in message


def test_upload_streams_the_file_and_survives_a_429(
    assemblyai_emulator: Emulator, hook: AssemblyAIHook, tmp_path: Path
) -> None:
    payload = bytes(range(256)) * 12_000  # ~3 MiB, several chunks
    source = tmp_path / "call.wav"
    source.write_bytes(payload)
    assemblyai_emulator.queue_responses([429], retry_after=0)
    upload_url = hook.upload_file(source, chunk_size=256 * 1024)
    uploads = [r for r in assemblyai_emulator.requests if r.path == "/v2/upload"]
    assert len(uploads) == 2
    assert uploads[-1].headers.get("transfer-encoding") == "chunked"  # streamed, not one buffer
    tid = hook.submit_transcript(upload_url, **REDACT)["id"]
    assert hook.get_transcript(tid)["audio_url"] == upload_url


def test_upload_of_a_missing_file_fails_before_any_request(
    assemblyai_emulator: Emulator, hook: AssemblyAIHook
) -> None:
    from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError

    with pytest.raises(AssemblyAIInvalidInputError, match="audio_path"):
        hook.upload_file("/nonexistent/file.wav")
    assert not [r for r in assemblyai_emulator.requests if r.kind == "api"]


# -- async twins behave the same ------------------------------------------------------------------


async def test_async_poll_path(assemblyai_emulator: Emulator, hook: AssemblyAIHook) -> None:
    ready = assemblyai_emulator.add_transcript(status="completed", params=REDACT)
    failed = assemblyai_emulator.add_transcript(
        status="error", params=REDACT, faults=Faults(error="Bad audio")
    )
    try:
        assert (await hook.apoll_redacted_audio(ready)).ready
        audio = await hook.aget_redacted_audio(ready)
        assert audio.url
        assert redact(audio.url) == "***"
        with pytest.raises(TranscriptFailedError, match="Bad audio"):
            await hook.apoll_redacted_audio(failed)
        with pytest.raises(TranscriptNotFoundError):
            await hook.aget_redacted_audio("missing-id")
    finally:
        await hook.aclose()


async def test_async_retries_count_like_sync(assemblyai_emulator: Emulator, hook: AssemblyAIHook) -> None:
    tid = assemblyai_emulator.add_transcript(status="completed", params=REDACT)
    assemblyai_emulator.set_faults(tid, Faults(api_errors=[429, 502], retry_after=0))
    try:
        assert (await hook.aget_transcript(tid))["id"] == tid
        assert api_requests(assemblyai_emulator, "GET", f"/v2/transcript/{tid}") == 3
        assemblyai_emulator.set_faults(tid, Faults(api_errors=[503] * 10))
        with pytest.raises(AssemblyAITransientError):
            await hook.aget_transcript(tid)
        assert (
            api_requests(assemblyai_emulator, "GET", f"/v2/transcript/{tid}")
            == 3 + FAST_RETRIES["max_attempts"]
        )
        assemblyai_emulator.set_faults(tid, Faults(api_errors=[401]))
        with pytest.raises(AssemblyAIAuthError):
            await hook.aget_transcript(tid)
    finally:
        await hook.aclose()


async def test_async_submit_upload_and_delete(
    assemblyai_emulator: Emulator, hook: AssemblyAIHook, tmp_path: Path
) -> None:
    source = tmp_path / "a.wav"
    source.write_bytes(b"RIFF" + b"\0" * 50_000)
    try:
        upload_url = await hook.aupload_file(source)
        tid = (await hook.asubmit_transcript(upload_url, **REDACT))["id"]
        await hook.adelete_transcript(tid)
        await hook.adelete_transcript(tid)
        assert assemblyai_emulator.deleted(tid)
        assert (await hook.alist_transcripts())["transcripts"]
    finally:
        await hook.aclose()
