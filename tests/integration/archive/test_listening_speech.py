"""The listening check on real speech (espeak-ng, three voices and speeds), as WAV and as MP3.

Each call is a synthesized sentence with spans beeped at several pitches, silenced, left as speech or
filled with noise; the check must pass the beeps and the silence and fail the speech and the noise,
also when the ranges it is given are shifted by +300 ms or -300 ms against the audio.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from airflow_assemblyai.archive.listening import RedactedRange, listen
from airflow_assemblyai.testing.speech import Span, Speech, redact, repeat, synthesize

VOICES = [("en-us", 130), ("en-gb", 175), ("en-us+f3", 220)]
FORMATS = ["wav", "mp3"]


def spans_for(speech: Speech) -> list[Span]:
    """Spans placed in proportion to the sentence, each with speech on both sides."""
    d = speech.duration_ms
    return [
        Span(d * 10 // 100, d * 10 // 100 + 900, "beep", 400),
        Span(d * 25 // 100, d * 25 // 100 + 700, "beep", 1000),
        Span(d * 40 // 100, d * 40 // 100 + 800, "beep", 4000),
        Span(d * 55 // 100, d * 55 // 100 + 800, "silence"),
        Span(d * 70 // 100, d * 70 // 100 + 900, "speech"),
        Span(d * 85 // 100, d * 85 // 100 + 800, "noise"),
    ]


EXPECTED = {"beep": "pass", "silence": "pass", "speech": "fail", "noise": "fail"}


@pytest.fixture(scope="module", params=VOICES, ids=[f"{v}-{s}wpm" for v, s in VOICES])
def call(request: pytest.FixtureRequest) -> tuple[Speech, list[Span]]:
    voice, speed = request.param
    speech = synthesize(voice=voice, speed=speed)
    spans = spans_for(speech)
    return redact(speech, spans), spans


def encoded(speech: Speech, fmt: str) -> bytes:
    return speech.wav() if fmt == "wav" else speech.mp3()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("shift_ms", [-300, 0, 300])
def test_beeps_and_silence_pass_speech_and_noise_fail(
    call: tuple[Speech, list[Span]], fmt: str, shift_ms: int
) -> None:
    speech, spans = call
    ranges = [RedactedRange(s.start_ms + shift_ms, s.end_ms + shift_ms, f"{s.fill}@{s.hz:g}") for s in spans]

    result = listen(io.BytesIO(encoded(speech, fmt)), ranges)

    got = {v.label: v.verdict for v in result.verdicts}
    want = {f"{s.fill}@{s.hz:g}": EXPECTED[s.fill] for s in spans}
    assert got == want, [v.to_dict() for v in result.verdicts]
    assert not result.passed
    beeps = [v for v in result.verdicts if v.label.startswith("beep")]
    assert [v.dominant_hz for v in beeps] == pytest.approx([400, 1000, 4000], abs=60)
    assert all(abs(v.offset_ms) <= 300 for v in result.verdicts)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_properly_beeped_call_passes_from_a_path(
    call: tuple[Speech, list[Span]], fmt: str, tmp_path: Path
) -> None:
    speech, spans = call
    beeped = [Span(s.start_ms, s.end_ms, "beep", 700 + 300 * i) for i, s in enumerate(spans)]
    path = tmp_path / f"call.{fmt}"
    path.write_bytes(encoded(redact(speech, beeped), fmt))

    result = listen(str(path), [(s.start_ms - 300, s.end_ms - 300, "phone_number") for s in beeped])

    assert result.passed, [v.to_dict() for v in result.failed]
    assert {v.reason.split(" near ")[0] for v in result.verdicts} == {"steady tone"}


def test_speech_fails_whatever_the_tolerance(call: tuple[Speech, list[Span]]) -> None:
    speech, spans = call
    left = next(s for s in spans if s.fill == "speech")

    for tolerance in (0, 300, 600):
        (verdict,) = listen(
            io.BytesIO(speech.wav()), [(left.start_ms, left.end_ms)], tolerance_ms=tolerance
        ).verdicts
        assert verdict.verdict == "fail", verdict
        assert "like speech" in verdict.reason


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_decoder_reads_a_long_file_in_blocks(fmt: str) -> None:
    speech = repeat(synthesize(voice="en-gb", speed=175), seconds=60)
    spans = [Span(ms, ms + 800, "beep", 1000) for ms in range(2_000, 58_000, 5_000)]
    data = encoded(redact(speech, spans), fmt)
    ranges = [(s.start_ms, s.end_ms) for s in spans]

    small = listen(io.BytesIO(data), ranges, block_frames=4096)
    whole = listen(io.BytesIO(data), ranges, block_frames=len(speech.samples) * 2)

    assert small.blocks_read >= len(speech.samples) // 4096
    assert whole.blocks_read == 1
    assert small.passed, [v.to_dict() for v in small.failed]
    assert [v.to_dict() for v in small.verdicts] == [v.to_dict() for v in whole.verdicts]


def test_without_espeak_ng_synthesis_fails_naming_the_install_script(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESPEAK_NG", "")
    monkeypatch.setenv("PATH", "")

    with pytest.raises(RuntimeError, match=r"scripts/_espeak\.sh"):
        synthesize()
