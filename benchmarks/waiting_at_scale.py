"""Wait on N transcripts at once on one event loop, as the triggerer does; print what it costs.

The emulator runs in its own process and seeds a fixed completion profile: N waited transcripts
and N more of the same account that nobody waits on, all created at the start, each completing at
a uniformly random moment of ``--window`` seconds, its redacted audio ready 5 to 30 s later (202
before). This process runs N redacted-audio triggers on one asyncio loop, like a triggerer (which
holds 1,000 by default, ``[triggerer] capacity``), until every one has yielded its event. Requests
are counted at the emulator. ``--mode per-wait`` replays the polling of each wait on its own that
the trigger did before the shared poller (sleep one jittered interval, read the transcript, ask
for the redacted audio once completed), for comparison.

    .venv/bin/python benchmarks/waiting_at_scale.py --waits 1000 [--mode shared|per-wait]
        [--window 600] [--poll-interval 30] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import time
from typing import Any

import httpx

from airflow_assemblyai.testing.loopback import assemblyai_connection_env, emulator_process

KEY = "bench-key"


def rss_mib() -> float:
    """Return this process's resident set size now, in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def per_wait(transcript_id: str, interval: float) -> dict[str, Any]:
    """Poll one transcript on its own until ready, as the trigger did before the shared poller."""
    from airflow_assemblyai.exceptions import AssemblyAIError, AssemblyAITransientError
    from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
    from airflow_assemblyai.triggers.poller import jittered

    hook = AssemblyAIHook()
    try:
        while True:
            await asyncio.sleep(jittered(interval))
            try:
                verdict = await hook.apoll_redacted_audio(transcript_id)
            except AssemblyAITransientError:
                continue
            except AssemblyAIError as exc:
                return {"status": "error", "error_type": type(exc).__name__}
            if verdict.ready:
                return {"status": "success", "audio_format": verdict.audio_format}
    finally:
        await hook.aclose()


async def shared(transcript_id: str, interval: float, audio_format: str | None) -> dict[str, Any]:
    """Wait through the redacted-audio trigger (and so the shared poller); return its one event."""
    from airflow_assemblyai.triggers.redacted_audio import AssemblyAIRedactedAudioTrigger

    trigger = AssemblyAIRedactedAudioTrigger(
        transcript_id=transcript_id,
        poll_interval=interval,
        end_time=time.time() + 7200,
        audio_format=audio_format,  # type: ignore[arg-type]
    )
    events = [event.payload async for event in trigger.run()]
    if len(events) != 1:
        raise RuntimeError(f"trigger yielded {len(events)} events")
    return dict(events[0])


async def run_waits(
    ids: list[str], mode: str, interval: float, audio_format: str | None
) -> dict[str, tuple[float, dict[str, Any]]]:
    done: dict[str, tuple[float, dict[str, Any]]] = {}

    async def one(tid: str) -> None:
        if mode == "shared":
            event = await shared(tid, interval, audio_format)
        else:
            event = await per_wait(tid, interval)
        done[tid] = (time.time(), event)

    await asyncio.gather(*(one(tid) for tid in ids))
    return done


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--waits", type=int, default=1000)
    parser.add_argument("--mode", choices=("shared", "per-wait"), default="shared")
    parser.add_argument("--window", type=float, default=600.0, help="completion window, seconds")
    parser.add_argument("--poll-interval", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--format-unknown",
        action="store_true",
        help="start the triggers without the audio format the sensor's inline poke hands them",
    )
    args = parser.parse_args()

    with emulator_process(api_key=KEY) as base_url:
        control = httpx.Client(base_url=base_url, timeout=300)
        os.environ.update(assemblyai_connection_env(api_key=KEY, base_url=base_url))
        import airflow_assemblyai.triggers.redacted_audio  # noqa: F401  (imports before the baseline)

        profile = {"waited": args.waits, "window_seconds": args.window, "seed": args.seed}
        schedule = control.post("/_emulator/completion-profile", json=profile).json()["transcripts"]
        ready_at = {item["id"]: item["ready_at"] for item in schedule}
        before = control.get("/_emulator/stats").json()
        rss_before = rss_mib()
        usage_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.time()
        audio_format = None if args.format_unknown else "mp3"  # what each sensor's inline poke read
        done = asyncio.run(run_waits(list(ready_at), args.mode, args.poll_interval, audio_format))
        elapsed = time.time() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        after = control.get("/_emulator/stats").json()

    api = after["requests"].get("api", 0) - before["requests"].get("api", 0)
    kinds = {k: after["api_requests"][k] - before["api_requests"].get(k, 0) for k in after["api_requests"]}
    statuses = statistics.multimode([event["status"] for _, event in done.values()])
    successes = sum(1 for _, event in done.values() if event["status"] == "success")
    latencies = [at - ready_at[tid] for tid, (at, event) in done.items() if event["status"] == "success"]
    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    per_thousand = 1000 / args.waits
    peak = usage.ru_maxrss / 1024
    known = "unknown to" if args.format_unknown else "handed by the sensor to"
    print(f"mode:            {args.mode}, {args.waits:,} waits on one event loop (audio format {known} each)")
    print(
        f"profile:         {args.waits:,} waited + {args.waits:,} unwaited transcripts completing across "
        f"{args.window:g} s, redacted audio 5-30 s later; poll interval {args.poll_interval:g} s"
    )
    print(f"events:          {len(done):,} ({successes:,} success; most common {statuses})")
    print(f"run time:        {elapsed:.0f} s (first wait to last event)")
    print(
        f"API requests:    {api:,} = {api / elapsed:.2f} requests/s over the run, "
        f"{api / args.waits:.2f} per wait"
    )
    print(
        f"  by kind:       list pages {kinds['list']:,} ({kinds['list'] / elapsed:.2f}/s), transcript reads "
        f"{kinds['transcript']:,}, redacted-audio asks {kinds['redacted_audio']:,}, other {kinds['other']:,}"
    )
    print(
        f"latency:         ready at the emulator -> event: p50 {percentile(latencies, 0.5):.1f} s, "
        f"p95 {percentile(latencies, 0.95):.1f} s, max {max(latencies):.1f} s"
    )
    print(
        f"RSS:             {rss_before:.0f} MiB before the waits, peak {peak:.0f} MiB: "
        f"{(peak - rss_before) * per_thousand:.1f} MiB per 1,000 waits"
    )
    print(
        f"CPU:             {cpu:.1f} s over the run: {cpu * per_thousand:.2f} s per 1,000 waits, "
        f"{cpu / elapsed * 100 * per_thousand:.2f} % of one core per 1,000 waits"
    )


if __name__ == "__main__":
    main()
