"""The listening check's contract on generated signals: evidence, validation, edges of the file."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile

from airflow_assemblyai.archive.listening import ListeningResult, RedactedRange, listen

RATE = 16_000


def wav(samples: np.ndarray) -> io.BytesIO:
    out = io.BytesIO()
    soundfile.write(out, samples, RATE, format="WAV", subtype="PCM_16")
    out.seek(0)
    return out


def tone(seconds: float, hz: float) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


def test_the_evidence_serialises_to_json() -> None:
    audio = np.concatenate([tone(1, 800), np.zeros(RATE, np.float32)])

    result = listen(wav(audio), [RedactedRange(100, 900, "person_name"), (1100, 1900, "phone_number")])

    data = json.loads(result.to_json())
    assert data["passed"] is True
    first, second = data["verdicts"]
    assert first["label"] == "person_name"
    assert first["verdict"] == "pass"
    assert first["dominant_hz"] == pytest.approx(800, abs=50)
    assert first["tonal_share"] == 1.0
    assert first["frames"] > 0
    assert second["reason"] == "silence"
    assert second["silent_share"] == 1.0
    assert data["sample_rate"] == RATE
    assert data["duration_ms"] == 2000
    assert isinstance(result, ListeningResult)


def test_a_tone_that_wanders_in_pitch_is_not_a_beep() -> None:
    # A chirp is tonal frame by frame but not steady: speech-like intonation must not pass as a beep.
    t = np.arange(RATE) / RATE
    chirp = (0.3 * np.sin(2 * np.pi * (300 * t + 600 * t**2))).astype(np.float32)

    (verdict,) = listen(wav(chirp), [(0, 1000)], tolerance_ms=0).verdicts

    assert verdict.verdict == "fail"


def test_a_range_past_the_end_fails_naming_why() -> None:
    (verdict,) = listen(wav(tone(1, 1000)), [(5000, 6000, "x")]).verdicts

    assert verdict.verdict == "fail"
    assert "past the end" in verdict.reason


@pytest.mark.parametrize(
    ("args", "field"),
    [((-1, 10), "start_ms"), ((100, 100), "end_ms"), ((200, 100), "end_ms")],
)
def test_invalid_ranges_name_the_field(args: tuple[int, int], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RedactedRange(*args)


def test_invalid_parameters_name_the_parameter() -> None:
    with pytest.raises(ValueError, match="block_frames"):
        listen(wav(tone(1, 1000)), [(0, 500)], block_frames=0)
    with pytest.raises(ValueError, match="tolerance_ms"):
        listen(wav(tone(1, 1000)), [(0, 500)], tolerance_ms=-1)
