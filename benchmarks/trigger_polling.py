"""Run many redacted-audio triggers on one event loop against the emulator; print what it costs.

The emulator runs as a separate process; only this process (the "triggerer") is measured. Every
transcript stays ``processing`` (or, with ``--rendering``, is ``completed`` with its redacted audio
rendering for the whole run, so each wait is asked about every interval), so every trigger waits
for the whole run. ``--extra-interval S`` adds one more trigger polling every S seconds: the
shared poller still asks about each other wait at its own interval, and no wait below its floor
(``MIN_POLL_INTERVAL``, 5 s). Prints the API requests sent (since the shared poller: list pages,
not one request per trigger per interval), the rate reached against one per trigger per interval,
peak RSS, CPU seconds and the TCP connections the emulator saw. ``benchmarks/waiting_at_scale.py``
measures waits that complete.

    .venv/bin/python benchmarks/trigger_polling.py [--triggers 1000] [--seconds 60] [--interval 1]
        [--rendering] [--extra-interval 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import time

import httpx

from airflow_assemblyai.testing.loopback import assemblyai_connection_env, emulator_process

KEY = "bench-key"


async def run_triggers(ids: list[str], seconds: float, intervals: list[float]) -> None:
    from airflow_assemblyai.triggers.redacted_audio import AssemblyAIRedactedAudioTrigger

    async def drain(trigger: AssemblyAIRedactedAudioTrigger) -> None:
        async for _ in trigger.run():
            pass

    end_time = time.time() + seconds + 60  # the triggers never time out during the run
    tasks = [
        asyncio.create_task(
            drain(
                AssemblyAIRedactedAudioTrigger(transcript_id=tid, poll_interval=interval, end_time=end_time)
            )
        )
        for tid, interval in zip(ids, intervals, strict=True)
    ]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument(
        "--rendering", action="store_true", help="transcripts completed, their redacted audio never ready"
    )
    parser.add_argument("--extra-interval", type=float, help="add one trigger polling at this interval")
    args = parser.parse_args()
    intervals = [args.interval] * args.triggers + ([args.extra_interval] if args.extra_interval else [])

    with emulator_process(api_key=KEY) as base_url:
        control = httpx.Client(base_url=base_url, timeout=30)
        seed: dict[str, object] = {
            "status": "processing",
            "params": {"redact_pii": True, "redact_pii_audio": True},
        }
        if args.rendering:
            seed.update(status="completed", faults={"render_polls": 10**9})
        ids = [control.post("/_emulator/transcripts", json=seed).json()["id"] for _ in intervals]
        os.environ.update(assemblyai_connection_env(api_key=KEY, base_url=base_url))
        before = control.get("/_emulator/stats").json()
        usage_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.monotonic()
        asyncio.run(run_triggers(ids, args.seconds, intervals))
        elapsed = time.monotonic() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        after = control.get("/_emulator/stats").json()

    polls = after["requests"].get("api", 0) - before["requests"].get("api", 0)
    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    wanted = sum(1 / interval for interval in intervals)
    extra = f" + 1 at {args.extra_interval:g} s" if args.extra_interval else ""
    state = "completed, redacted audio rendering" if args.rendering else "processing"
    print(
        f"triggers on one event loop:  {args.triggers} at {args.interval:g} s{extra} ({state}), "
        f"{elapsed:.1f} s"
    )
    print(f"API requests sent:           {polls}")
    print(
        f"request rate reached:        {polls / elapsed:.2f}/s (one per trigger per interval: {wanted:.0f}/s)"
    )
    print(f"peak RSS of this process:    {usage.ru_maxrss / 1024:.0f} MiB")
    print(f"CPU of this process:         {cpu:.2f} s")
    print(f"TCP connections seen:        {after['connections_seen'] - before['connections_seen']}")


if __name__ == "__main__":
    main()
