"""The emulator is faithful enough for AssemblyAI's own Python SDK to run a redaction end to end."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from pathlib import Path

import assemblyai as aai
import pytest

from airflow_assemblyai.testing.audio import synth_wav
from airflow_assemblyai.testing.emulator import Emulator, Faults
from tests.support import MODELS


@pytest.fixture
def sdk(assemblyai_emulator: Emulator) -> Iterator[None]:
    saved = (aai.settings.base_url, aai.settings.api_key, aai.settings.polling_interval)
    aai.settings.base_url = assemblyai_emulator.base_url
    aai.settings.api_key = assemblyai_emulator.api_key
    aai.settings.polling_interval = 0.05
    yield
    aai.settings.base_url, aai.settings.api_key, aai.settings.polling_interval = saved


def redaction_config(quality: str) -> aai.TranscriptionConfig:
    return aai.TranscriptionConfig(
        speech_models=MODELS["speech_models"],
        redact_pii=True,
        redact_pii_audio=True,
        redact_pii_policies=[aai.PIIRedactionPolicy.person_name, aai.PIIRedactionPolicy.phone_number],
        redact_pii_audio_quality=aai.PIIRedactedAudioQuality(quality),
    )


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as audio:
        return audio.getnframes() / audio.getframerate()


@pytest.mark.usefixtures("sdk")
def test_sdk_transcribes_a_local_wav_and_saves_redacted_wav(tmp_path: Path) -> None:
    source = tmp_path / "call.wav"
    source.write_bytes(synth_wav(seconds=4.0))
    transcript = aai.Transcriber().transcribe(str(source), config=redaction_config("wav"))
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    assert transcript.get_redacted_audio_url().startswith("http://127.0.0.1")
    saved = tmp_path / "redacted.wav"
    transcript.save_redacted_audio(str(saved))
    data = saved.read_bytes()
    assert data[:4] == b"RIFF"
    assert wav_seconds(data) == pytest.approx(4.0, abs=0.01)
    assert data != source.read_bytes()  # the PII spans were beeped


@pytest.mark.usefixtures("sdk")
def test_sdk_default_quality_is_mp3(tmp_path: Path) -> None:
    source = tmp_path / "call.wav"
    source.write_bytes(synth_wav(seconds=2.0))
    config = aai.TranscriptionConfig(
        speech_models=MODELS["speech_models"],
        redact_pii=True,
        redact_pii_audio=True,
        redact_pii_policies=[aai.PIIRedactionPolicy.person_name],
    )
    transcript = aai.Transcriber().transcribe(str(source), config=config)
    saved = tmp_path / "redacted.mp3"
    transcript.save_redacted_audio(str(saved))
    head = saved.read_bytes()[:3]
    assert head == b"ID3" or (head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


@pytest.mark.usefixtures("sdk")
def test_sdk_sees_a_failed_transcript(assemblyai_emulator: Emulator, tmp_path: Path) -> None:
    assemblyai_emulator.next_faults = Faults(processing_seconds=0.1, error="Audio duration is too short.")
    source = tmp_path / "call.wav"
    source.write_bytes(synth_wav(seconds=1.0))
    transcript = aai.Transcriber().transcribe(str(source), config=redaction_config("wav"))
    assert transcript.status == aai.TranscriptStatus.error
    assert transcript.error == "Audio duration is too short."
