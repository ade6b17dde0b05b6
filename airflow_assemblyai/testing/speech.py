"""Real speech for tests: synthesise it with espeak-ng, then beep, silence or noise chosen time ranges.

espeak-ng is Debian's package; ``scripts/_espeak.sh`` (run by ``./scripts/test``) installs it under
``.cache/espeak-ng/`` without root and exports ``ESPEAK_NG``. Without it, :func:`espeak_ng` raises
(tests fail rather than skip) with a message naming that script.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import soundfile

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

Fill = Literal["beep", "silence", "noise", "speech"]
INSTALL_HINT = "run `bash scripts/_espeak.sh` (./scripts/test does it) or put espeak-ng on PATH"
#: A few sentences with the kinds of PII a call carries; long enough to leave speech around each span.
SENTENCES = (
    "Hello, my name is Jonathan Smith and my phone number is five five five, one two three four. "
    "I live at forty two Baker Street in London, and my card number ends in nine eight seven six."
)


@dataclass(frozen=True)
class Speech:
    """Mono 16-bit audio in memory (float32 samples in [-1, 1])."""

    samples: NDArray[np.float32]
    rate: int

    @property
    def duration_ms(self) -> int:
        return len(self.samples) * 1000 // self.rate

    def wav(self) -> bytes:
        out = io.BytesIO()
        soundfile.write(out, self.samples, self.rate, format="WAV", subtype="PCM_16")
        return out.getvalue()

    def mp3(self, bitrate_kbps: int = 64) -> bytes:
        try:
            import lameenc  # the dev group's MP3 encoder (untyped)
        except ImportError as error:
            raise RuntimeError("MP3 needs lameenc: `pip install lameenc` (the dev group)") from error

        encoder = lameenc.Encoder()
        encoder.set_bit_rate(bitrate_kbps)
        encoder.set_in_sample_rate(self.rate)
        encoder.set_channels(1)
        encoder.set_quality(2)
        pcm = (np.clip(self.samples, -1, 1) * 32767).astype("<i2").tobytes()
        return bytes(encoder.encode(pcm) + encoder.flush())


@dataclass(frozen=True)
class Span:
    """A time range of the audio and what to put there (``hz`` is the beep's pitch)."""

    start_ms: int
    end_ms: int
    fill: Fill = "beep"
    hz: float = 1000.0


def espeak_ng() -> str:
    """The espeak-ng command: ``$ESPEAK_NG``, else the one on PATH; raises naming the install script."""
    found = os.environ.get("ESPEAK_NG") or shutil.which("espeak-ng")
    if not found or not os.access(found, os.X_OK):
        raise RuntimeError(f"espeak-ng is not installed: {INSTALL_HINT}")
    return found


def synthesize(text: str = SENTENCES, *, voice: str = "en-us", speed: int = 160) -> Speech:
    """Speak ``text`` with espeak-ng (``voice`` as ``espeak-ng --voices`` lists, ``speed`` in words/min)."""
    done = subprocess.run(
        [espeak_ng(), "-v", voice, "-s", str(speed), "--stdout", text],
        capture_output=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0 or not done.stdout:
        raise RuntimeError(
            f"espeak-ng failed (exit {done.returncode}): {done.stderr.decode(errors='replace')[-500:]}; "
            f"{INSTALL_HINT}"
        )
    samples, rate = soundfile.read(io.BytesIO(done.stdout), dtype="float32")
    return Speech(np.asarray(samples, dtype=np.float32), int(rate))


def beep(count: int, rate: int, hz: float, amplitude: float = 0.3) -> NDArray[np.float32]:
    """A sine tone of ``count`` samples."""
    t = np.arange(count, dtype=np.float64) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def noise(count: int, amplitude: float = 0.2, seed: int = 0) -> NDArray[np.float32]:
    """White noise of ``count`` samples (uniform, reproducible)."""
    return np.random.default_rng(seed).uniform(-amplitude, amplitude, count).astype(np.float32)


def redact(speech: Speech, spans: Sequence[Span]) -> Speech:
    """A copy of ``speech`` with each span beeped, silenced, filled with noise or left as speech."""
    out = speech.samples.copy()
    for number, span in enumerate(spans):
        first = span.start_ms * speech.rate // 1000
        last = min(len(out), span.end_ms * speech.rate // 1000)
        if last <= first:
            raise ValueError(f"span {span} lies outside the audio ({speech.duration_ms} ms)")
        if span.fill == "beep":
            out[first:last] = beep(last - first, speech.rate, span.hz)
        elif span.fill == "silence":
            out[first:last] = 0
        elif span.fill == "noise":
            out[first:last] = noise(last - first, seed=number)
    return Speech(out, speech.rate)


def repeat(speech: Speech, seconds: float) -> Speech:
    """``speech`` repeated until it lasts ``seconds`` (for long files in tests and benchmarks)."""
    count = int(seconds * speech.rate)
    times = -(-count // len(speech.samples))
    return Speech(np.tile(speech.samples, times)[:count], speech.rate)
