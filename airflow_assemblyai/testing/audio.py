"""Synthesize test audio and render its PII-redacted copy (WAV, or MP3 through lameenc)."""

from __future__ import annotations

import io
import math
import struct
import wave
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

SAMPLE_RATE = 16_000
BEEP_HZ = 1_000
#: Fractions of the duration treated as spoken PII: the emulator's stand-in for detection.
PII_SPANS: tuple[tuple[float, float], ...] = ((0.2, 0.35), (0.6, 0.7))


def tone_samples(seconds: float, freq: float, rate: int = SAMPLE_RATE, amplitude: float = 0.3) -> bytes:
    """Return mono 16-bit PCM of a sine tone."""
    count = int(seconds * rate)
    peak = int(32767 * amplitude)
    return b"".join(
        struct.pack("<h", int(peak * math.sin(2 * math.pi * freq * i / rate))) for i in range(count)
    )


def synth_wav(seconds: float = 3.0, rate: int = SAMPLE_RATE) -> bytes:
    """Return a WAV of ``seconds`` of alternating tones (stand-in for speech; it has none)."""
    pieces = [tone_samples(0.5, 330 + 110 * (i % 4), rate) for i in range(max(1, int(seconds / 0.5)))]
    return pcm_to_wav(b"".join(pieces)[: int(seconds * rate) * 2], rate)


#: Leading bytes of the audio and video containers AssemblyAI transcodes (a sample of its long list).
_MEDIA_MAGIC: tuple[tuple[int, bytes], ...] = (
    (0, b"RIFF"),  # WAV (and AVI)
    (0, b"ID3"),  # MP3 with a tag
    (0, b"fLaC"),
    (0, b"OggS"),  # Ogg Vorbis, Opus
    (4, b"ftyp"),  # MP4, M4A, MOV
    (0, b"\x1a\x45\xdf\xa3"),  # WebM, Matroska
    (0, b"#!AMR"),
    (0, b"FORM"),  # AIFF
    (0, b"\x30\x26\xb2\x75"),  # WMA, WMV (ASF)
    (0, b".snd"),  # AU
)


def describe_non_audio(data: bytes) -> str | None:
    """Return the media type of ``data`` when it is plainly not audio or video; None when it may be.

    The emulator's stand-in for AssemblyAI's transcoder: known container headers and MPEG audio
    frames pass; text, HTML, empty and unrecognised bytes do not.
    """
    head = data[:64]
    if any(head[offset : offset + len(magic)] == magic for offset, magic in _MEDIA_MAGIC):
        return None
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame (MP3, AAC)
        return None
    if not data:
        return "application/x-empty"
    try:
        text = data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    lowered = text.lstrip().lower()
    return "text/html" if lowered.startswith(("<!doctype html", "<html")) else "text/plain"


def write_call_recordings(folder: Path, count: int) -> Path:
    """Create ``folder`` with ``count`` WAVs ``call-0000.wav``... of 2 to 6 s; return the folder."""
    folder.mkdir(parents=True)
    for n in range(count):
        (folder / f"call-{n:04d}.wav").write_bytes(synth_wav(seconds=2.0 + n % 5))
    return folder


def pcm_to_wav(pcm: bytes, rate: int = SAMPLE_RATE) -> bytes:
    """Wrap mono 16-bit PCM in a WAV container."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def read_mono_pcm(data: bytes) -> tuple[bytes, int] | None:
    """Return ``(mono 16-bit PCM, rate)`` of a WAV, or None when ``data`` is not a readable WAV."""
    try:
        with wave.open(io.BytesIO(data), "rb") as src:
            channels, width, rate = src.getnchannels(), src.getsampwidth(), src.getframerate()
            frames = src.readframes(src.getnframes())
    except (wave.Error, EOFError, struct.error):
        return None
    if width != 2:
        return None
    if channels > 1:
        samples = struct.unpack(f"<{len(frames) // 2}h", frames)
        mono = [sum(samples[i : i + channels]) // channels for i in range(0, len(samples), channels)]
        frames = struct.pack(f"<{len(mono)}h", *mono)
    return frames, rate


def redact_pcm(pcm: bytes, rate: int, *, silence: bool, skip: tuple[int, ...] = ()) -> bytes:
    """Return ``pcm`` with the PII spans replaced by a 1 kHz beep, or by silence.

    :param skip: indices of :data:`PII_SPANS` left as they are (a redaction that forgot them).
    """
    out = bytearray(pcm)
    samples = len(pcm) // 2
    for index, (start_frac, end_frac) in enumerate(PII_SPANS):
        if index in skip:
            continue
        start, end = int(samples * start_frac), int(samples * end_frac)
        span = end - start
        fill = b"\0\0" * span if silence else tone_samples(span / rate, BEEP_HZ, rate)[: span * 2]
        out[start * 2 : start * 2 + len(fill)] = fill
    return bytes(out)


def encode_mp3(pcm: bytes, rate: int) -> bytes | None:
    """Encode mono PCM as MP3 with lameenc; None when lameenc is not installed."""
    try:
        import lameenc
    except ImportError:
        return None
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(64)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode(pcm) + encoder.flush())


def render_redacted(
    source: bytes, *, fmt: str, silence: bool, skip: tuple[int, ...] = ()
) -> tuple[bytes, str, float]:
    """Return ``(file bytes, actual format, duration seconds)`` of the redacted copy of ``source``.

    ``skip`` names the spans of :data:`PII_SPANS` left unredacted (see :func:`redact_pcm`).

    A source that is not a 16-bit WAV is replaced by synthesized audio (the emulator cannot decode
    other formats). ``mp3`` falls back to WAV when lameenc is missing.
    """
    decoded = read_mono_pcm(source) or read_mono_pcm(synth_wav())
    if decoded is None:  # synth_wav() always decodes; this guards a future change to it
        raise RuntimeError("the emulator's synthesized WAV could not be decoded")
    pcm, rate = decoded
    redacted = redact_pcm(pcm, rate, silence=silence, skip=skip)
    duration = len(pcm) / 2 / rate
    if fmt == "mp3":
        mp3 = encode_mp3(redacted, rate)
        if mp3 is not None:
            return mp3, "mp3", duration
    return pcm_to_wav(redacted, rate), "wav", duration


def write_large_wav(path: Path, size: int, chunk: int = 4 * 1024 * 1024) -> None:
    """Write a valid WAV of about ``size`` bytes in chunks, never holding it whole."""
    data_len = max(0, size - 44) // 2 * 2
    header = b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    header += b"data" + struct.pack("<I", data_len)
    block = (tone_samples(1.0, 440) * (chunk // (SAMPLE_RATE * 2) + 1))[:chunk]
    with path.open("wb") as out:
        out.write(header)
        left = data_len
        while left > 0:
            piece = block[: min(chunk, left)]
            out.write(piece)
            left -= len(piece)
