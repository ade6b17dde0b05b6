"""check_audio_header: real WAV and MP3 files pass, whatever their size fields say; the rest fails."""

from __future__ import annotations

import struct

import pytest

from airflow_assemblyai.archive.audio_format import check_audio_header
from airflow_assemblyai.exceptions import AssemblyAIFinalError, RedactedAudioIntegrityError
from airflow_assemblyai.testing.audio import encode_mp3, synth_wav, tone_samples

WAV_BYTES = synth_wav(seconds=1.0)
GiB = 1024**3


def check(head: bytes, total: int | None) -> str:
    return check_audio_header(head, total, description="the file")


def with_sizes(wav: bytes, *, riff: int | None = None, data: int | None = None) -> bytes:
    """Return ``wav`` (a 44-byte-header WAV) with its RIFF and data size fields replaced."""
    out = bytearray(wav)
    if riff is not None:
        struct.pack_into("<I", out, 4, riff)
    if data is not None:
        struct.pack_into("<I", out, 40, data)
    return bytes(out)


def rf64_header(riff64: int, data64: int) -> bytes:
    ds64 = b"ds64" + struct.pack("<I", 28) + struct.pack("<QQQI", riff64, data64, data64 // 2, 0)
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16_000, 32_000, 2, 16)
    return (
        b"RF64"
        + struct.pack("<I", 0xFFFFFFFF)
        + b"WAVE"
        + ds64
        + fmt
        + b"data"
        + struct.pack("<I", 0xFFFFFFFF)
    )


def test_a_whole_wav_passes() -> None:
    assert check(WAV_BYTES, len(WAV_BYTES)) == "wav"


def test_a_wav_with_trailing_bytes_passes() -> None:
    assert check(WAV_BYTES + b"\0" * 100, len(WAV_BYTES) + 100) == "wav"


@pytest.mark.parametrize(
    ("riff", "data"),
    [(0, 0), (0xFFFFFFFF, 0xFFFFFFFF), (0x7FFFF000, 0x7FFFEFDC)],
    ids=["unset", "saturated", "streaming-maximum"],
)
def test_placeholder_sizes_of_streaming_writers_pass(riff: int, data: int) -> None:
    assert check(with_sizes(WAV_BYTES, riff=riff, data=data), len(WAV_BYTES)) == "wav"


def test_sizes_wrapped_past_4_gib_pass() -> None:
    total = 5 * GiB + 44
    header = with_sizes(WAV_BYTES[:44], riff=(total - 8) % 2**32, data=(total - 44) % 2**32)

    assert check(header + tone_samples(0.1, 440), total) == "wav"


def test_rf64_passes_and_its_ds64_sizes_are_checked() -> None:
    total = 6 * GiB
    header = rf64_header(riff64=total - 8, data64=total - 80)

    assert check(header, total) == "wav"
    with pytest.raises(RedactedAudioIntegrityError, match="ds64 RIFF size"):
        check(header, total - 1000)


@pytest.mark.parametrize("field", ["RIFF size", "data size"])
def test_a_truncated_wav_fails(field: str) -> None:
    cut = WAV_BYTES[:-1000]
    head = cut if field == "RIFF size" else with_sizes(cut, riff=len(cut) - 8)

    with pytest.raises(RedactedAudioIntegrityError, match=f"{field}.*truncated"):
        check(head, len(cut))


def test_sizes_are_not_checked_when_the_length_is_unknown() -> None:
    assert check(WAV_BYTES[:-1000], None) == "wav"


def test_mp3_passes_with_an_id3_tag_or_a_bare_frame() -> None:
    id3 = b"ID3\x04\x00\x00\x00\x00\x01\x00" + b"\0" * 128
    frame = bytes([0xFF, 0xFB, 0x90, 0x64]) + b"\0" * 400

    assert check(id3, None) == "mp3"
    assert check(frame, None) == "mp3"


def test_mp3_from_an_encoder_passes() -> None:
    encoded = encode_mp3(tone_samples(1.0, 440), 16_000)
    if encoded is None:
        pytest.skip("lameenc is not installed")

    assert check(encoded, len(encoded)) == "mp3"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty body"),
        (b"<!DOCTYPE html><html><body>Bad Gateway</body></html>", "HTML or XML page"),
        (b"  <?xml version='1.0'?><Error/>", "HTML or XML page"),
        (b"fLaC\x00\x00\x00\x22" + b"\0" * 40, "neither WAV nor MP3"),
        (bytes([0xFF, 0xE0, 0xF0, 0x00]) + b"\0" * 40, "neither WAV nor MP3"),  # sync, reserved fields
    ],
    ids=["empty", "html", "xml", "flac", "false-sync"],
)
def test_what_is_not_audio_fails_with_a_retryable_integrity_error(body: bytes, words: str) -> None:
    with pytest.raises(RedactedAudioIntegrityError, match=words) as caught:
        check(body, len(body))

    assert not isinstance(caught.value, AssemblyAIFinalError)  # a task retry may get the real file
