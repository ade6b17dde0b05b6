"""The emulator refuses by default what AssemblyAI refuses, so offline tests fail where production would."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_assemblyai.exceptions import AssemblyAIRequestError, TranscriptFailedError
from airflow_assemblyai.operators.transcribe import AssemblyAITranscribeOperator
from airflow_assemblyai.sensors.redacted_audio import AssemblyAIRedactedAudioSensor
from airflow_assemblyai.testing.audio import synth_wav
from airflow_assemblyai.testing.emulator import Emulator, Faults, run_emulator
from tests.support import MODELS, REDACT


@pytest.fixture
def lenient() -> Iterator[Emulator]:
    with run_emulator(processing_seconds=0, strict=False) as emulator:
        yield emulator


def submit(emulator: Emulator, **body: Any) -> httpx.Response:
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": emulator.api_key}) as client:
        return client.post("/v2/transcript", json={**MODELS, **REDACT, **body})


def upload(emulator: Emulator, data: bytes) -> str:
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": emulator.api_key}) as client:
        return str(client.post("/v2/upload", content=data).json()["upload_url"])


def final_state(emulator: Emulator, transcript_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": emulator.api_key}) as client:
        while True:
            body: dict[str, Any] = client.get(f"/v2/transcript/{transcript_id}").json()
            if body["status"] in ("completed", "error") or time.monotonic() > deadline:
                return body
            time.sleep(0.05)


def test_a_misspelled_request_field_is_refused_naming_it_and_passes_when_lenient(
    assemblyai_emulator: Emulator, lenient: Emulator
) -> None:
    refused = submit(assemblyai_emulator, audio_url=assemblyai_emulator.sample_audio_url, speaker_label=True)
    assert refused.status_code == 400
    assert "speaker_label" in refused.json()["error"]
    assert (
        submit(
            assemblyai_emulator, audio_url=assemblyai_emulator.sample_audio_url, speaker_labels=True
        ).status_code
        == 200
    )
    assert submit(lenient, audio_url=lenient.sample_audio_url, speaker_label=True).status_code == 200


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (b"Quarterly notes, not a recording.\n" * 20, "text/plain"),
        (b"<!DOCTYPE html><html><body>Access denied</body></html>", "text/html"),
        (os.urandom(4096).replace(b"\xff", b"\x00"), "application/octet-stream"),
    ],
    ids=["text", "html", "random-bytes"],
)
def test_a_file_that_is_not_audio_fails_with_the_transcoding_error(
    assemblyai_emulator: Emulator, lenient: Emulator, data: bytes, media_type: str
) -> None:
    assemblyai_emulator.next_faults = Faults(processing_seconds=0)
    tid = submit(assemblyai_emulator, audio_url=upload(assemblyai_emulator, data)).json()["id"]
    failed = final_state(assemblyai_emulator, tid)
    assert failed["status"] == "error"
    assert failed["error"] == (
        f"Transcoding failed. File does not appear to contain audio. File type is {media_type}."
    )
    # Audio passes, and the lenient emulator stands a tone in for what it cannot decode.
    assert (
        final_state(
            assemblyai_emulator,
            submit(assemblyai_emulator, audio_url=upload(assemblyai_emulator, synth_wav())).json()["id"],
        )["status"]
        == "completed"
    )
    lenient_id = submit(lenient, audio_url=upload(lenient, data)).json()["id"]
    assert final_state(lenient, lenient_id)["status"] == "completed"


@pytest.mark.parametrize(
    "audio_url",
    ["https://recordings.example.invalid/call.wav", "/srv/recordings/call.wav", "LOOPBACK_404"],
    ids=["unreachable-host", "local-path", "loopback-404"],
)
def test_an_audio_url_that_cannot_be_downloaded_fails_with_the_download_error(
    assemblyai_emulator: Emulator, lenient: Emulator, audio_url: str
) -> None:
    if audio_url == "LOOPBACK_404":
        audio_url = f"{assemblyai_emulator.base_url}/_samples/missing/call.wav"
    assemblyai_emulator.next_faults = Faults(processing_seconds=0)
    failed = final_state(assemblyai_emulator, submit(assemblyai_emulator, audio_url=audio_url).json()["id"])
    assert failed["status"] == "error"
    assert failed["error"] == f"Download error, unable to download {audio_url}"
    assert final_state(lenient, submit(lenient, audio_url=audio_url).json()["id"])["status"] == "completed"


def test_a_dag_authors_mistakes_fail_offline_as_they_would_in_production(
    assemblyai_connection: Emulator, tmp_path: Path
) -> None:
    emulator = assemblyai_connection
    emulator.next_faults = Faults(processing_seconds=0)
    with pytest.raises(AssemblyAIRequestError, match="speaker_label"):
        AssemblyAITranscribeOperator(
            task_id="transcribe",
            audio_url=emulator.sample_audio_url,
            redact_pii_policies=["person_name"],
            transcript_params={"speaker_label": True},
        ).execute({})  # type: ignore[arg-type]
    notes = tmp_path / "notes.wav"  # named like audio, but text inside
    notes.write_text("minutes of the meeting\n" * 50)
    transcript_id = AssemblyAITranscribeOperator(
        task_id="transcribe", audio_path=str(notes), redact_pii_policies=["person_name"]
    ).execute({})  # type: ignore[arg-type]
    sensor = AssemblyAIRedactedAudioSensor(task_id="wait", transcript_id=transcript_id, poke_interval=0.1)
    with pytest.raises(TranscriptFailedError, match="File does not appear to contain audio"):
        sensor.poke({})  # type: ignore[arg-type]
