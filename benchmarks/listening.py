"""Benchmark the listening check on one hour of redacted speech, WAV and MP3.

Builds the audio in a temporary folder (deleted afterwards) from espeak-ng speech: one minute of
repeated sentences with an 800 ms beep every 5 s (pitches from 400 Hz to 4 kHz), written 60 times
over, so the builder never holds an hour either. Then, per format, in a fresh Python process each:

* ``check``: ``listen()`` over all 720 ranges (given 250 ms early, as AssemblyAI's word timings can
  be), timed, with the process's peak RSS (``ru_maxrss``) before and after and, in a second run,
  tracemalloc's peak of Python and numpy allocations;
* ``copy``: the same file read and written in 1 MiB chunks (what the transfer does with the bytes,
  without the network), a floor;
* ``transfer``: the transfer's own time for a file of the same size (``benchmarks/transfer_to_s3.py``
  with its ``operator`` method: the emulator's file host streamed into a moto S3 server), the baseline
  the check's time is given as a ratio of.

Nothing about wall-clock is asserted; the target is a peak under 200 MiB.

Usage (espeak-ng from scripts/_espeak.sh, as ./scripts/test installs it)::

    source scripts/_espeak.sh && .venv/bin/python benchmarks/listening.py
    .venv/bin/python benchmarks/listening.py --minutes 10      # a quick run
    .venv/bin/python benchmarks/listening.py --no-transfer     # the check alone
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BEEP_EVERY_MS = 5_000
BEEP_MS = 800
EARLY_MS = 250
PITCHES = (400, 700, 1000, 2000, 4000)


def build(folder: Path, minutes: int) -> tuple[dict[str, Path], list[tuple[int, int, str]]]:
    """Write ``minutes`` of beeped speech as WAV and MP3; return the files and the ranges."""
    import lameenc
    import numpy as np
    import soundfile

    from airflow_assemblyai.testing.speech import Span, redact, repeat, synthesize

    speech = repeat(synthesize(voice="en-us", speed=160), seconds=60)
    spans = [
        Span(ms, ms + BEEP_MS, "beep", PITCHES[i % len(PITCHES)])
        for i, ms in enumerate(range(1_000, 60_000 - BEEP_MS, BEEP_EVERY_MS))
    ]
    minute = redact(speech, spans)
    pcm = (np.clip(minute.samples, -1, 1) * 32767).astype("<i2")
    wav, mp3 = folder / "hour.wav", folder / "hour.mp3"
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(64)
    encoder.set_in_sample_rate(minute.rate)
    encoder.set_channels(1)
    encoder.set_quality(2)
    with soundfile.SoundFile(wav, "w", minute.rate, 1, "PCM_16", format="WAV") as out, mp3.open("wb") as mp:
        for _ in range(minutes):
            out.write(pcm)
            mp.write(encoder.encode(pcm.tobytes()))
        mp.write(encoder.flush())
    ranges = [
        (k * 60_000 + s.start_ms - EARLY_MS, k * 60_000 + s.end_ms - EARLY_MS, f"beep {s.hz:g} Hz")
        for k in range(minutes)
        for s in spans
    ]
    return {"wav": wav, "mp3": mp3}, ranges


def child(kind: str, path: str, ranges_file: str) -> None:
    """One measurement in this (fresh) process; prints one JSON line."""
    ranges = [(int(a), int(b), str(c)) for a, b, c in json.loads(Path(ranges_file).read_text())]
    if kind == "copy":
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        with open(path, "rb") as src, open(path + ".copy", "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        seconds = time.perf_counter() - started
        Path(path + ".copy").unlink()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"seconds": seconds, "rss_before": rss_before, "rss_after": rss_after}))
        return
    import tracemalloc

    from airflow_assemblyai.archive.listening import listen

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = listen(path, ranges)
    seconds = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    listen(path, ranges)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    failed = [v.to_dict() for v in result.failed]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rss_before": rss_before,
                "rss_after": rss_after,
                "traced_peak": traced_peak,
                "ranges": len(result.verdicts),
                "failed": len(failed),
                "first_failure": failed[:1],
                "blocks": result.blocks_read,
                "duration_ms": result.duration_ms,
            }
        )
    )


def run_child(kind: str, path: Path, ranges_file: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path), str(ranges_file)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def transfer_seconds(sizes_mib: list[int]) -> dict[int, float]:
    """Return the transfer operator's time per size, from a run of benchmarks/transfer_to_s3.py."""
    script = Path(__file__).with_name("transfer_to_s3.py")
    sizes = ",".join(str(size) for size in sizes_mib)
    done = subprocess.run(
        [sys.executable, str(script), "--sizes", sizes, "--methods", "operator"],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.findall(r"^\s+operator\s+(\d+) MiB\s+([\d.]+) s", done.stdout, flags=re.MULTILINE)
    return {int(size): float(seconds) for size, seconds in found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--no-transfer", action="store_true", help="skip the transfer baseline")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "RANGES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    folder = Path(tempfile.mkdtemp(prefix="listening-bench-"))
    try:
        started = time.perf_counter()
        files, ranges = build(folder, args.minutes)
        ranges_file = folder / "ranges.json"
        ranges_file.write_text(json.dumps(ranges))
        print(f"built {args.minutes} min of beeped speech in {time.perf_counter() - started:.1f} s")
        print(f"{len(ranges)} ranges of {BEEP_MS} ms, every {BEEP_EVERY_MS} ms, given {EARLY_MS} ms early")
        sizes = {fmt: max(1, round(path.stat().st_size / 2**20)) for fmt, path in files.items()}
        transfers = {} if args.no_transfer else transfer_seconds(sorted(set(sizes.values())))
        for fmt, path in files.items():
            check = run_child("check", path, ranges_file)
            copy = run_child("copy", path, ranges_file)
            size = path.stat().st_size / 2**20
            audio_ms, blocks = check["duration_ms"], check["blocks"]
            print(f"\n{fmt.upper()}: {size:.0f} MiB, {audio_ms} ms of audio, {blocks} blocks")
            print(f"  check: {check['seconds']:.1f} s, {check['ranges']} ranges, {check['failed']} failed")
            if check["failed"]:
                print(f"  first failure: {check['first_failure']}")
            print(
                f"  check peak RSS: {int(check['rss_after']) / 1024:.0f} MiB "
                f"(after imports {int(check['rss_before']) / 1024:.0f} MiB, "
                f"delta {(int(check['rss_after']) - int(check['rss_before'])) / 1024:.0f} MiB); "
                f"tracemalloc peak {int(check['traced_peak']) / 2**20:.1f} MiB"
            )
            print(
                f"  plain copy (1 MiB chunks): {copy['seconds']:.2f} s; "
                f"check/copy = {float(check['seconds']) / float(copy['seconds']):.0f}x"
            )
            if sizes[fmt] in transfers:
                moved = transfers[sizes[fmt]]
                print(
                    f"  transfer of {sizes[fmt]} MiB (operator, emulator to moto S3): {moved:.1f} s; "
                    f"check/transfer = {float(check['seconds']) / moved:.2f}"
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
