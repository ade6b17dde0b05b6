"""Listen to archived audio: is each redacted time range a beep or silence, or does it still speak?

The audio (WAV or MP3, a path or a binary file object) is decoded by libsndfile through
``soundfile``, ``block_frames`` samples at a time, mixed down to mono and cut into 20 ms analysis
frames. Memory is bounded by one block plus a few numbers per frame that lies near a range; the
whole file is never held.

Per frame (Hann window, power spectrum):

- *silent*: RMS below ``SILENCE_DBFS`` (-50 dBFS). AssemblyAI's
  ``override_audio_redaction_method: "silence"`` and the pauses between words are digital zeros;
  MP3 keeps them far below this.
- *tonal*: at least ``TONE_PEAK_SHARE`` (90 %) of the frame's power within two bins (±100 Hz) of
  its strongest bin. A sine beep at any pitch holds over 99 % there, also through MP3; white noise a
  few per cent. Synthesized speech reaches 80 to 92 % in single voiced frames (espeak-ng's strong
  fundamentals, measured), so a frame alone proves nothing: a range's tonal frames count only when
  their peak is *steady*, within one bin (50 Hz) of the median peak of the range's tonal frames.

A range passes when at least ``PASS_SHARE`` (90 %) of its judged frames are silent or steady-tonal:
a beep or silence passes; speech (under 20 % in every voice and speed tested) and broadband noise
(no tonal frames) fail. The margin of 10 % lets a few edge frames of an MP3 (the encoder smears a
beep's on- and offset over a granule) or a range that runs a little past a beep through.

Tolerance. AssemblyAI's word timings are not exact (utterances starting about 250 ms early were
measured on the real API), so a range may sit up to ``tolerance_ms`` (default 300 ms) off its beep.
Trimming 300 ms at each edge would leave nothing of a single short word, so the check searches
instead: it trims ``EDGE_MS`` (40 ms) at each edge (the beep's own on- and offset) and judges the
range at every shift from ``-tolerance_ms`` to ``+tolerance_ms`` in 20 ms steps, keeping the shift
with the highest redacted share (the smallest shift on ties). The verdict records that shift. The
search cannot turn speech into a pass: a range that still speaks would need a beep or silence at
least 90 % of its own length within the tolerance, that is, another redacted range right beside it.
Ranges shorter than ``MIN_FRAMES`` frames after trimming are judged untrimmed.

The guard band (ms added at each side of every range) is the caller's: ranges are judged as given.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from typing import IO, TYPE_CHECKING, Any, Final

import numpy as np
import soundfile

from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from numpy.typing import NDArray

__all__ = [
    "DEFAULT_BLOCK_FRAMES",
    "DEFAULT_TOLERANCE_MS",
    "EDGE_MS",
    "FRAME_MS",
    "MIN_FRAMES",
    "PASS_SHARE",
    "SILENCE_DBFS",
    "TONE_PEAK_SHARE",
    "ListeningResult",
    "RangeVerdict",
    "RedactedRange",
    "listen",
]

FRAME_MS: Final = 20
DEFAULT_TOLERANCE_MS: Final = 300
EDGE_MS: Final = 40
MIN_FRAMES: Final = 3
SILENCE_DBFS: Final = -50.0
TONE_PEAK_SHARE: Final = 0.9
#: Bins either side of the strongest one that count as its peak (a Hann window's main lobe).
PEAK_BINS: Final = 2
#: How far (in bins) a tonal frame's peak may stray from the range's median peak and still be steady.
STEADY_BINS: Final = 1
PASS_SHARE: Final = 0.9
#: 65,536 samples: 4 s at 16 kHz, 256 KiB as float32 per channel.
DEFAULT_BLOCK_FRAMES: Final = 65_536

_TINY: Final = 1e-20

AudioSource = str | os.PathLike[str] | IO[bytes]


@dataclass(frozen=True)
class RedactedRange:
    """A time range that should be inaudible, with its label (the PII policy, say)."""

    start_ms: int
    end_ms: int
    label: str = ""

    def __post_init__(self) -> None:
        if self.start_ms < 0:
            raise AssemblyAIInvalidInputError(
                f"start_ms must be 0 or more, got {self.start_ms} (range {self.label!r})"
            )
        if self.end_ms <= self.start_ms:
            raise AssemblyAIInvalidInputError(
                f"end_ms ({self.end_ms}) must be after start_ms ({self.start_ms}) (range {self.label!r})"
            )


@dataclass(frozen=True)
class RangeVerdict:
    """What was measured in one range, the verdict and why: the evidence for the record."""

    start_ms: int
    end_ms: int
    label: str
    verdict: str  # "pass" or "fail"
    reason: str
    #: The shift (ms) at which the range was judged: the window is [start+edge+offset, end-edge+offset].
    offset_ms: int
    judged_start_ms: int
    judged_end_ms: int
    frames: int
    silent_share: float
    tonal_share: float
    redacted_share: float
    #: Median peak frequency of the steady tonal frames; None when there are none.
    dominant_hz: float | None
    rms_dbfs: float | None
    #: Median spectral flatness of the loud frames (1 for white noise, near 0 for a tone); None if none.
    flatness: float | None

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ListeningResult:
    """The verdicts of one file's ranges, and how the file was read."""

    verdicts: tuple[RangeVerdict, ...]
    sample_rate: int
    channels: int
    format: str
    duration_ms: int
    frame_ms: int
    tolerance_ms: int
    block_frames: int
    blocks_read: int

    @property
    def passed(self) -> bool:
        """True when every range passed (and vacuously for no ranges)."""
        return all(v.passed for v in self.verdicts)

    @property
    def failed(self) -> tuple[RangeVerdict, ...]:
        return tuple(v for v in self.verdicts if not v.passed)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


@dataclass
class _Frames:
    """Features of the analysed frames, by frame index (sorted)."""

    index: NDArray[np.int64]
    rms_dbfs: NDArray[np.float64]
    peak_share: NDArray[np.float64]
    peak_bin: NDArray[np.int64]
    flatness: NDArray[np.float64]
    bin_hz: float


def listen(
    audio: AudioSource,
    ranges: Iterable[RedactedRange | tuple[int, int] | tuple[int, int, str]],
    *,
    tolerance_ms: int = DEFAULT_TOLERANCE_MS,
    block_frames: int = DEFAULT_BLOCK_FRAMES,
) -> ListeningResult:
    """Decode ``audio`` block by block and judge each range: beep or silence passes, else fails."""
    if tolerance_ms < 0:
        raise AssemblyAIInvalidInputError(f"tolerance_ms must be 0 or more, got {tolerance_ms}")
    if block_frames < 1:
        raise AssemblyAIInvalidInputError(f"block_frames must be 1 or more, got {block_frames}")
    wanted = tuple(_as_range(r) for r in ranges)
    with soundfile.SoundFile(audio) as sound:
        rate = int(sound.samplerate)
        channels = int(sound.channels)
        fmt = str(sound.format)
        frame_len = max(1, round(rate * FRAME_MS / 1000))
        needed = _needed_frames(wanted, tolerance_ms)
        frames, samples, blocks = _analyse(sound, frame_len, rate, needed, block_frames)
    verdicts = tuple(_judge(r, frames, tolerance_ms) for r in wanted)
    return ListeningResult(
        verdicts=verdicts,
        sample_rate=rate,
        channels=channels,
        format=fmt,
        duration_ms=samples * 1000 // rate if rate else 0,
        frame_ms=FRAME_MS,
        tolerance_ms=tolerance_ms,
        block_frames=block_frames,
        blocks_read=blocks,
    )


def _as_range(value: RedactedRange | tuple[int, int] | tuple[int, int, str]) -> RedactedRange:
    if isinstance(value, RedactedRange):
        return value
    return RedactedRange(int(value[0]), int(value[1]), str(value[2]) if len(value) > 2 else "")


def _windows(r: RedactedRange) -> tuple[int, int]:
    """The range's judged window (ms) before any shift: trimmed by EDGE_MS unless that leaves too little."""
    start, end = r.start_ms + EDGE_MS, r.end_ms - EDGE_MS
    if end - start < MIN_FRAMES * FRAME_MS:
        return r.start_ms, r.end_ms
    return start, end


def _needed_frames(ranges: Sequence[RedactedRange], tolerance_ms: int) -> NDArray[np.int64]:
    """Merged [first, last) frame-index intervals (shape (n, 2)) that any range's search may read."""
    spans = sorted(
        (max(0, (start - tolerance_ms) // FRAME_MS), (end + tolerance_ms) // FRAME_MS + 1)
        for start, end in map(_windows, ranges)
    )
    merged: list[list[int]] = []
    for first, last in spans:
        if merged and first <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return np.array(merged, dtype=np.int64).reshape(-1, 2)


def _blocks(sound: soundfile.SoundFile, block_frames: int) -> Iterator[NDArray[np.float32]]:
    """Mono float32 samples, ``block_frames`` at a time."""
    while True:
        data: NDArray[np.float32] = sound.read(block_frames, dtype="float32", always_2d=True)
        if not len(data):
            return
        yield data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]


def _analyse(
    sound: soundfile.SoundFile,
    frame_len: int,
    rate: int,
    needed: NDArray[np.int64],
    block_frames: int,
) -> tuple[_Frames, int, int]:
    """Compute the features of every needed frame in one pass; return them, the samples and blocks read."""
    window = np.hanning(frame_len)
    carry = np.zeros(0, dtype=np.float32)
    next_frame = 0
    samples = blocks = 0
    parts: list[tuple[NDArray[Any], ...]] = []
    starts, ends = needed[:, 0], needed[:, 1]
    for block in _blocks(sound, block_frames):
        blocks += 1
        samples += len(block)
        data = np.concatenate((carry, block)) if len(carry) else block
        count = len(data) // frame_len
        carry = data[count * frame_len :].copy()
        if not count or not len(needed):
            next_frame += count
            continue
        index = np.arange(next_frame, next_frame + count, dtype=np.int64)
        next_frame += count
        slot = np.searchsorted(starts, index, side="right") - 1
        keep = (slot >= 0) & (index < ends[np.maximum(slot, 0)])
        if not keep.any():
            continue
        framed = data[: count * frame_len].reshape(count, frame_len)[keep].astype(np.float64)
        parts.append((index[keep], *_features(framed, window)))
    bin_hz = rate / frame_len
    if not parts:
        empty_f = np.zeros(0, dtype=np.float64)
        empty_i = np.zeros(0, dtype=np.int64)
        return _Frames(empty_i, empty_f, empty_f, empty_i, empty_f, bin_hz), samples, blocks
    cols = [np.concatenate(col) for col in zip(*parts, strict=True)]
    return _Frames(cols[0], cols[1], cols[2], cols[3], cols[4], bin_hz), samples, blocks


def _features(framed: NDArray[np.float64], window: NDArray[np.float64]) -> tuple[NDArray[Any], ...]:
    """RMS (dBFS), the power share of the peak, the peak bin and the spectral flatness of each frame."""
    rms = np.sqrt(np.mean(framed**2, axis=1))
    rms_dbfs = 20 * np.log10(np.maximum(rms, 1e-10))
    power = np.abs(np.fft.rfft(framed * window, axis=1)) ** 2
    total = power.sum(axis=1) + _TINY
    peak = power.argmax(axis=1)
    cumulative = np.concatenate((np.zeros((len(power), 1)), np.cumsum(power, axis=1)), axis=1)
    rows = np.arange(len(power))
    low = np.maximum(peak - PEAK_BINS, 0)
    high = np.minimum(peak + PEAK_BINS + 1, power.shape[1])
    peak_share = (cumulative[rows, high] - cumulative[rows, low]) / total
    flatness = np.exp(np.mean(np.log(power + _TINY), axis=1)) / (total / power.shape[1])
    return rms_dbfs, peak_share, peak.astype(np.int64), flatness


def _judge(r: RedactedRange, frames: _Frames, tolerance_ms: int) -> RangeVerdict:
    base_start, base_end = _windows(r)
    steps = tolerance_ms // FRAME_MS
    best: tuple[float, int, int] | None = None  # (share, -|shift|, shift)
    for step in range(-steps, steps + 1):
        shift = step * FRAME_MS
        picked = _window(frames, base_start + shift, base_end + shift)
        if not len(picked):
            continue
        silent, tonal, _ = _classify(frames, picked)
        share = float(np.mean(silent | tonal))
        key = (share, -abs(shift), shift)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        return _verdict(r, frames, 0, base_start, base_end, np.zeros(0, dtype=np.int64))
    shift = best[2]
    picked = _window(frames, base_start + shift, base_end + shift)
    return _verdict(r, frames, shift, base_start + shift, base_end + shift, picked)


def _window(frames: _Frames, start_ms: int, end_ms: int) -> NDArray[np.int64]:
    """Positions (in ``frames``) of the frames wholly inside [start_ms, end_ms)."""
    first = max(0, math.ceil(start_ms / FRAME_MS))
    last = math.floor(end_ms / FRAME_MS)  # exclusive
    lo, hi = np.searchsorted(frames.index, [first, last])
    return np.arange(lo, hi, dtype=np.int64)


def _classify(
    frames: _Frames, picked: NDArray[np.int64]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], float | None]:
    """Silent and steady-tonal masks over ``picked``, and the median peak bin of the tonal frames."""
    silent = frames.rms_dbfs[picked] < SILENCE_DBFS
    peaky = ~silent & (frames.peak_share[picked] >= TONE_PEAK_SHARE)
    if not peaky.any():
        return silent, peaky, None
    bins = frames.peak_bin[picked]
    median = float(np.median(bins[peaky]))
    tonal = peaky & (np.abs(bins - median) <= STEADY_BINS)
    return silent, tonal, median


def _verdict(
    r: RedactedRange,
    frames: _Frames,
    shift: int,
    start_ms: int,
    end_ms: int,
    picked: NDArray[np.int64],
) -> RangeVerdict:
    count = len(picked)
    if not count:
        return RangeVerdict(
            r.start_ms, r.end_ms, r.label, "fail",
            "no audio in the range: it lies past the end of the file",
            shift, start_ms, end_ms, 0, 0.0, 0.0, 0.0, None, None, None,
        )  # fmt: skip
    silent, tonal, median_bin = _classify(frames, picked)
    silent_share = float(np.mean(silent))
    tonal_share = float(np.mean(tonal))
    redacted = float(np.mean(silent | tonal))
    energy = np.mean(10 ** (frames.rms_dbfs[picked] / 10))
    rms_dbfs = round(10 * math.log10(max(float(energy), 1e-20)), 1)
    loud = ~silent
    flatness = round(float(np.median(frames.flatness[picked][loud])), 4) if loud.any() else None
    dominant = round(median_bin * frames.bin_hz, 1) if median_bin is not None and tonal.any() else None
    if redacted >= PASS_SHARE:
        verdict = "pass"
        if tonal_share >= silent_share:
            reason = f"steady tone near {dominant} Hz" + (" with silence" if silent_share >= 0.05 else "")
        else:
            reason = "silence" + (f" with a steady tone near {dominant} Hz" if tonal_share >= 0.05 else "")
    else:
        verdict = "fail"
        noisy = flatness is not None and flatness >= 0.3
        what = "broadband noise" if noisy else "it still sounds like speech"
        reason = (
            f"only {redacted:.0%} of {count} frames are a steady tone or silence "
            f"(at least {PASS_SHARE:.0%} needed): {what}"
        )
    return RangeVerdict(
        start_ms=r.start_ms,
        end_ms=r.end_ms,
        label=r.label,
        verdict=verdict,
        reason=reason,
        offset_ms=shift,
        judged_start_ms=start_ms,
        judged_end_ms=end_ms,
        frames=count,
        silent_share=round(silent_share, 4),
        tonal_share=round(tonal_share, 4),
        redacted_share=round(redacted, 4),
        dominant_hz=dominant,
        rms_dbfs=rms_dbfs,
        flatness=flatness,
    )
