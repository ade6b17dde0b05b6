"""The emulator over real HTTP on 127.0.0.1: API answers, the signed file host, scripted faults, CLI."""

from __future__ import annotations

import io
import itertools
import os
import signal
import struct
import subprocess
import sys
import time
import wave

import httpx
import pytest

from airflow_assemblyai.redaction import NOT_FOUND_TEXT, NOT_REQUESTED_TEXT, PENDING_TEXT
from airflow_assemblyai.testing.audio import BEEP_HZ, PII_SPANS, synth_wav
from airflow_assemblyai.testing.emulator import EXPIRED_TEXT, Emulator, Faults
from tests.support import MODELS, REDACT, WAV


def api(emulator: Emulator) -> httpx.Client:
    return httpx.Client(base_url=emulator.base_url, headers={"Authorization": emulator.api_key})


def ready_url(emulator: Emulator, transcript_id: str) -> str:
    with api(emulator) as client:
        answer = client.get(f"/v2/transcript/{transcript_id}/redacted-audio")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["redacted_audio_url"])


def pcm(data: bytes) -> tuple[list[int], int]:
    with wave.open(io.BytesIO(data), "rb") as audio:
        frames = audio.readframes(audio.getnframes())
        return list(struct.unpack(f"<{len(frames) // 2}h", frames)), audio.getframerate()


def test_wrong_or_missing_key_is_401(assemblyai_emulator: Emulator) -> None:
    bearer = f"Bearer {assemblyai_emulator.api_key}"
    for headers in ({}, {"Authorization": "nope"}, {"Authorization": bearer}):
        answer = httpx.get(f"{assemblyai_emulator.base_url}/v2/transcript", headers=headers)
        assert answer.status_code == 401
        assert answer.json() == {"error": "Authentication error, API token missing/invalid"}


def test_submit_moves_from_queued_through_processing_to_completed(assemblyai_emulator: Emulator) -> None:
    assemblyai_emulator.next_faults = Faults(processing_seconds=0.6)
    with api(assemblyai_emulator) as client:
        created = client.post(
            "/v2/transcript", json={"audio_url": assemblyai_emulator.sample_audio_url, **MODELS, **REDACT}
        ).json()
        assert created["status"] == "queued"
        assert created["redact_pii_policies"] == ["person_name"]
        statuses = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            body = client.get(f"/v2/transcript/{created['id']}").json()
            statuses.append(body["status"])
            if body["status"] == "completed":
                break
            time.sleep(0.05)
    assert statuses[-1] == "completed"
    assert set(statuses) <= {"queued", "processing", "completed"}
    assert "processing" in statuses
    assert body["text"]
    assert body["audio_duration"] == 3


def test_submit_is_validated_like_the_api(assemblyai_emulator: Emulator) -> None:
    with api(assemblyai_emulator) as client:
        assert client.post("/v2/transcript", json={}).status_code == 400
        no_policies = client.post("/v2/transcript", json={"audio_url": "u", **MODELS, "redact_pii": True})
        assert no_policies.status_code == 400
        assert "redact_pii_policies" in no_policies.json()["error"]
        bad_quality = client.post(
            "/v2/transcript", json={"audio_url": "u", **MODELS, **REDACT, "redact_pii_audio_quality": "ogg"}
        )
        assert bad_quality.status_code == 400


def test_each_redacted_audio_answer(assemblyai_emulator: Emulator) -> None:
    processing = assemblyai_emulator.add_transcript(status="processing", params=REDACT)
    rendering = assemblyai_emulator.add_transcript(params=REDACT, faults=Faults(render_seconds=60))
    plain = assemblyai_emulator.add_transcript(params={"redact_pii": False})
    expired = assemblyai_emulator.add_transcript(params=REDACT)
    assemblyai_emulator.expire(expired)
    ready = assemblyai_emulator.add_transcript(params=REDACT)
    with api(assemblyai_emulator) as client:

        def answer(tid: str) -> httpx.Response:
            return client.get(f"/v2/transcript/{tid}/redacted-audio")

        assert (answer(processing).status_code, answer(processing).json()["error"]) == (400, PENDING_TEXT)
        assert answer(rendering).status_code == 202
        assert answer(plain).json()["error"] == NOT_REQUESTED_TEXT
        assert answer("unknown").json()["error"] == NOT_FOUND_TEXT
        assert answer(expired).json()["error"] == EXPIRED_TEXT
        body = answer(ready).json()
        assert body["status"] == "redacted_audio_ready"
        assert body["redacted_audio_url"].startswith(f"{assemblyai_emulator.base_url}/_files/")


def test_list_and_delete(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params=REDACT)
    with api(assemblyai_emulator) as client:
        listing = client.get("/v2/transcript", params={"limit": 5}).json()
        assert [row["id"] for row in listing["transcripts"]] == [tid]
        assert listing["page_details"]["result_count"] == 1
        first, second = client.delete(f"/v2/transcript/{tid}"), client.delete(f"/v2/transcript/{tid}")
        assert (first.status_code, second.status_code) == (200, 200)
        assert first.json()["text"] == "Deleted by user."
        assert client.delete("/v2/transcript/never-known").status_code == 400
        assert client.get(f"/v2/transcript/{tid}/redacted-audio").json()["error"] == NOT_REQUESTED_TEXT
    assert assemblyai_emulator.deleted(tid)


def test_list_pages_newest_first_down_and_up(assemblyai_emulator: Emulator) -> None:
    ids = [assemblyai_emulator.add_transcript(params=REDACT) for _ in range(5)][::-1]  # newest first
    with api(assemblyai_emulator) as client:
        first = client.get("/v2/transcript", params={"limit": 2}).json()
        assert [row["id"] for row in first["transcripts"]] == ids[:2]
        assert first["page_details"]["next_url"] is None
        second = client.get(first["page_details"]["prev_url"]).json()
        assert [row["id"] for row in second["transcripts"]] == ids[2:4]
        last = client.get(second["page_details"]["prev_url"]).json()
        assert [row["id"] for row in last["transcripts"]] == ids[4:]
        assert last["page_details"]["prev_url"] is None
        back = client.get(last["page_details"]["next_url"]).json()
        assert [row["id"] for row in back["transcripts"]] == ids[2:4]


def test_completion_profile_schedules_waited_and_unwaited_transcripts(assemblyai_emulator: Emulator) -> None:
    with api(assemblyai_emulator) as client:
        answer = client.post(
            "/_emulator/completion-profile", json={"waited": 30, "window_seconds": 600, "seed": 3}
        )
        schedule = answer.json()["transcripts"]
        listing = client.get("/v2/transcript", params={"limit": 200}).json()["transcripts"]
        first = client.get(f"/v2/transcript/{schedule[0]['id']}/redacted-audio")
    assert len(schedule) == 30
    assert len(listing) == 60  # as many transcripts again that nobody waits on
    now = time.time()
    assert all(now - 1 < item["completes_at"] < now + 600 for item in schedule)
    assert all(5 <= item["ready_at"] - item["completes_at"] <= 30 for item in schedule)
    assert {row["status"] for row in listing} <= {"queued", "processing", "completed"}
    expected_pending = schedule[0]["completes_at"] > time.time()
    assert (first.json().get("error") == PENDING_TEXT) is expected_pending


def test_finish_ends_a_seeded_processing_transcript(assemblyai_emulator: Emulator) -> None:
    ok = assemblyai_emulator.add_transcript(status="processing", params=REDACT)
    failed = assemblyai_emulator.add_transcript(
        status="processing", params=REDACT, faults=Faults(error="Bad audio")
    )
    with api(assemblyai_emulator) as client:
        assert client.get(f"/v2/transcript/{ok}").json()["status"] == "processing"
        assemblyai_emulator.finish(ok)
        client.post(f"/_emulator/transcripts/{failed}/finish")
        assert client.get(f"/v2/transcript/{ok}").json()["status"] == "completed"
        assert client.get(f"/v2/transcript/{failed}").json()["error"] == "Bad audio"


def test_signed_url_is_fresh_expiring_ranged_and_refuses_head(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params=WAV)
    first, second = ready_url(assemblyai_emulator, tid), ready_url(assemblyai_emulator, tid)
    assert first != second
    expected = assemblyai_emulator.redacted_audio(tid)
    whole = httpx.get(first)
    assert whole.status_code == 200
    assert whole.content == expected
    assert whole.headers["content-type"] == "binary/octet-stream"
    assert len(whole.headers["etag"].strip('"')) == 32
    part = httpx.get(second, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == expected[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(expected)}"
    assert httpx.get(first, headers={"Range": "bytes=1000-"}).content == expected[1000:]
    assert httpx.head(first).status_code == 403
    tampered = first.replace("Signature=", "Signature=0")
    assert httpx.get(tampered).status_code == 403


def test_authorization_header_at_the_file_host_is_a_violation(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params=REDACT)
    answer = httpx.get(
        ready_url(assemblyai_emulator, tid), headers={"Authorization": assemblyai_emulator.api_key}
    )
    assert answer.status_code == 400
    assert assemblyai_emulator.violations


def test_expired_urls_fault(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params=REDACT, faults=Faults(expired_urls=1))
    expired = httpx.get(ready_url(assemblyai_emulator, tid))
    assert expired.status_code == 403
    assert "Request has expired" in expired.text
    assert httpx.get(ready_url(assemblyai_emulator, tid)).status_code == 200


def test_api_errors_fault_with_retry_after(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(
        params=REDACT, faults=Faults(api_errors=[429, 503], retry_after=7)
    )
    with api(assemblyai_emulator) as client:
        limited = client.get(f"/v2/transcript/{tid}")
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
        assert client.get(f"/v2/transcript/{tid}").status_code == 503
        assert client.get(f"/v2/transcript/{tid}").status_code == 200
    assemblyai_emulator.queue_responses([500])
    with api(assemblyai_emulator) as client:
        assert client.get("/v2/transcript").status_code == 500
        assert client.get("/v2/transcript").status_code == 200


def test_cut_download_drops_the_connection_mid_body(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params=WAV)
    assemblyai_emulator.set_faults(tid, Faults(cut_download_after=1000, cut_downloads=1))
    url = ready_url(assemblyai_emulator, tid)
    received = bytearray()

    def download() -> None:
        with httpx.stream("GET", url) as answer:
            for chunk in answer.iter_raw():
                received.extend(chunk)

    with pytest.raises(httpx.RemoteProtocolError):
        download()
    assert len(received) == 1000
    assert httpx.get(url).content == assemblyai_emulator.redacted_audio(tid)  # only one download was cut


def test_download_statuses_fault(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params=REDACT, faults=Faults(download_statuses=[503]))
    url = ready_url(assemblyai_emulator, tid)
    assert httpx.get(url).status_code == 503
    assert httpx.get(url).status_code == 200


@pytest.mark.parametrize("method", ["beep", "silence"])
def test_redacted_wav_keeps_duration_and_changes_only_the_pii_spans(
    assemblyai_emulator: Emulator, method: str
) -> None:
    source = synth_wav(seconds=4.0)
    options = {"override_audio_redaction_method": "silence"} if method == "silence" else None
    params = {**REDACT, "redact_pii_audio_quality": "wav", "redact_pii_audio_options": options}
    tid = assemblyai_emulator.add_transcript(audio=source, params=params)
    original, rate = pcm(source)
    redacted, redacted_rate = pcm(httpx.get(ready_url(assemblyai_emulator, tid)).content)
    assert (len(redacted), redacted_rate) == (len(original), rate)
    start, end = (int(len(original) * f) for f in PII_SPANS[0])
    assert redacted[: start - 1] == original[: start - 1]  # untouched before the span
    span = redacted[start:end]
    if method == "silence":
        assert not any(span)
    else:
        crossings = sum(1 for a, b in itertools.pairwise(span) if a < 0 <= b)
        assert crossings == pytest.approx(BEEP_HZ * len(span) / rate, rel=0.05)


def test_mp3_quality_serves_mp3(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params={**REDACT, "redact_pii_audio_quality": "mp3"})
    head = httpx.get(ready_url(assemblyai_emulator, tid)).content[:3]
    assert head == b"ID3" or (head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def test_large_synthetic_file_is_a_valid_wav_of_that_size(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(
        params=REDACT, faults=Faults(redacted_size_bytes=3 * 1024 * 1024)
    )
    path = assemblyai_emulator.redacted_audio_path(tid)
    assert path.stat().st_size == 3 * 1024 * 1024
    with wave.open(str(path), "rb") as audio:
        assert audio.getnframes() == (3 * 1024 * 1024 - 44) // 2


def test_requests_and_connections_are_recorded(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params=REDACT)
    with api(assemblyai_emulator) as client:
        for _ in range(3):
            client.get(f"/v2/transcript/{tid}")
    assert assemblyai_emulator.count("GET", f"/v2/transcript/{tid}") == 3
    assert assemblyai_emulator.connections_seen == 1  # one keep-alive connection
    stats = httpx.get(f"{assemblyai_emulator.base_url}/_emulator/stats").json()
    assert stats["requests"]["api"] == 3


def test_cli_serves_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_assemblyai.testing.emulator", "--port", "0", "--api-key", "cli-key"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("AssemblyAI emulator listening on http://127.0.0.1:")
        base_url = line.rsplit(" ", 1)[1]
        answer = httpx.get(f"{base_url}/v2/transcript", headers={"Authorization": "cli-key"})
        assert answer.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_cli_refuses_a_non_loopback_host() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "airflow_assemblyai.testing.emulator", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "loopback" in done.stderr
