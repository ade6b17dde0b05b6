"""Many redacted-audio waits sharing one poller, against the emulator on a real event loop."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import TYPE_CHECKING, Any

import pytest

from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.testing.loopback import assemblyai_connection_env
from airflow_assemblyai.triggers import poller as poller_module
from airflow_assemblyai.triggers.poller import SharedPoller, current_pollers
from airflow_assemblyai.triggers.redacted_audio import AssemblyAIRedactedAudioTrigger
from tests.support import REDACT, WAV, set_env

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

INTERVAL = 0.05

pytestmark = pytest.mark.usefixtures("assemblyai_connection")


def trigger_for(transcript_id: str, conn_id: str = "assemblyai_default") -> AssemblyAIRedactedAudioTrigger:
    return AssemblyAIRedactedAudioTrigger(
        transcript_id=transcript_id,
        assemblyai_conn_id=conn_id,
        poll_interval=INTERVAL,
        end_time=time.time() + 120,
    )


async def events_of(trigger: AssemblyAIRedactedAudioTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


async def until(condition: Callable[[], bool], what: str) -> None:
    """Yield to the loop until ``condition`` holds (a condition, not a timing; bounded for safety)."""
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.005)


def connection_with_retries(emulator: Emulator, monkeypatch: pytest.MonkeyPatch, **retries: float) -> None:
    """Point ``assemblyai_default`` at the emulator with these retry settings."""
    env = assemblyai_connection_env(api_key=emulator.api_key, base_url=emulator.base_url, **retries)
    set_env(monkeypatch, env)


async def the_poller() -> SharedPoller:
    await until(lambda: len(current_pollers()) == 1, "one shared poller runs")
    return current_pollers()[0]


def start(coroutine: Coroutine[Any, Any, list[dict[str, Any]]]) -> asyncio.Task[list[dict[str, Any]]]:
    return asyncio.ensure_future(coroutine)


async def test_fifty_waits_finishing_in_any_order_get_every_event_right_with_few_requests(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poller_module, "MAX_LIST_PAGES", 2)  # a cycle reads the newest 400 rows
    rng = random.Random(7)
    # The oldest waited transcript sits below 450 others nobody waits on: no scan reaches it.
    old = assemblyai_emulator.add_transcript(status="processing", params=REDACT)
    for _ in range(450):
        assemblyai_emulator.add_transcript(status="processing", params=REDACT)
    expected: dict[str, tuple[str, str]] = {old: ("success", "mp3")}
    render_polls: dict[str, int] = {old: 0}
    for index in range(49):
        if index % 7 == 1:
            faults = Faults(error=f"Audio file {index} is corrupt")
            tid = assemblyai_emulator.add_transcript(status="processing", params=REDACT, faults=faults)
            expected[tid] = ("error", "TranscriptFailedError")
        elif index % 7 == 2:
            tid = assemblyai_emulator.add_transcript(status="processing", params={"redact_pii": False})
            expected[tid] = ("error", "RedactionNotRequestedError")
        else:
            polls = rng.choice([0, 0, 1, 3])  # some render late: 202 first
            quality = rng.choice(["mp3", "wav"])
            tid = assemblyai_emulator.add_transcript(
                status="processing",
                params={**REDACT, "redact_pii_audio_quality": quality},
                faults=Faults(render_polls=polls),
            )
            expected[tid] = ("success", quality)
            render_polls[tid] = polls
    waits = {tid: start(events_of(trigger_for(tid))) for tid in expected}
    poller = await the_poller()
    cycles_at_end: dict[str, int] = {}
    for tid in waits:
        waits[tid].add_done_callback(lambda _, tid=tid: cycles_at_end.setdefault(tid, poller.cycles))

    order = list(expected)
    rng.shuffle(order)
    for tid in order:  # one finishes every cycle or so, in random order
        seen = poller.cycles
        await until(lambda seen=seen: poller.cycles > seen, "a poll cycle")
        assemblyai_emulator.finish(tid)
    results = {tid: await task for tid, task in waits.items()}

    for tid, (status, detail) in expected.items():
        events = results[tid]
        assert len(events) == 1, (tid, events)
        assert events[0]["status"] == status
        assert events[0]["transcript_id"] == tid
        assert events[0]["audio_format" if status == "success" else "error_type"] == detail
    # The list's own error text reaches the message, with no request for the transcript.
    failed = [tid for tid, (_, detail) in expected.items() if detail == "TranscriptFailedError"]
    assert all("is corrupt" in results[tid][0]["message"] for tid in failed)
    assert all(assemblyai_emulator.count("GET", f"/v2/transcript/{tid}") == 0 for tid in failed)
    for tid in expected:
        if tid == old or tid in failed:
            continue
        # Listed transcripts are read once, after the list showed them finished, never polled.
        assert (
            assemblyai_emulator.count("GET", f"/v2/transcript/{tid}")
            - assemblyai_emulator.count("GET", f"/v2/transcript/{tid}/redacted-audio")
            == 1
        )
        if expected[tid][0] == "success":
            assert (
                assemblyai_emulator.count("GET", f"/v2/transcript/{tid}/redacted-audio")
                == render_polls[tid] + 1
            )
    assert assemblyai_emulator.count("GET", f"/v2/transcript/{old}") >= 2  # checked directly, slowly
    # Polling each wait on its own costs at least one request per wait per cycle it waited.
    per_wait_floor = sum(cycles_at_end.values())
    used = assemblyai_emulator.count(path_prefix="/v2/")
    assert used * 4 < per_wait_floor, (used, per_wait_floor)


async def test_a_cancelled_wait_leaves_the_others_finishing(assemblyai_emulator: Emulator) -> None:
    ids = [assemblyai_emulator.add_transcript(status="processing", params=REDACT) for _ in range(5)]
    waits = [start(events_of(trigger_for(tid))) for tid in ids]
    poller = await the_poller()
    await until(lambda: poller.cycles >= 2, "two poll cycles")
    await until(lambda: assemblyai_emulator.count("GET", "/v2/transcript") > 0, "a list request in flight")
    waits[0].cancel()  # cancelled in the middle of the poller's cycle
    with pytest.raises(asyncio.CancelledError):
        await waits[0]
    for tid in ids:
        assemblyai_emulator.finish(tid)
    for tid, task in zip(ids[1:], waits[1:], strict=True):
        assert [e["status"] for e in await task] == ["success"], tid
    assert assemblyai_emulator.count("GET", f"/v2/transcript/{ids[0]}") == 0  # nobody asks for it any more
    # Nobody waits now: the poller stopped, and no request follows.
    await until(lambda: not current_pollers(), "the poller stops")
    sent = assemblyai_emulator.count(path_prefix="/v2/")
    await asyncio.sleep(5 * INTERVAL)
    assert assemblyai_emulator.count(path_prefix="/v2/") == sent


async def test_a_429_with_retry_after_pauses_every_wait_of_the_account(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cap (retry_wait_max) above the second asked for, so the whole pause is honoured.
    connection_with_retries(
        assemblyai_emulator, monkeypatch, max_attempts=2, retry_wait_initial=0.01, retry_wait_max=2
    )
    ids = [assemblyai_emulator.add_transcript(status="processing", params=REDACT) for _ in range(20)]
    waits = [start(events_of(trigger_for(tid))) for tid in ids]
    poller = await the_poller()
    await until(lambda: poller.cycles >= 2, "two poll cycles")
    assemblyai_emulator.queue_responses([429], retry_after=1)
    await until(lambda: poller.paused_until > 0, "the 429 reaches the poller")
    sent = assemblyai_emulator.count(path_prefix="/v2/")
    assert [r.status for r in assemblyai_emulator.requests][-1] == 429
    # 20 waits at 0.05 s would send hundreds of requests in the pause; the account sends none.
    await asyncio.sleep(max(0.0, poller.paused_until - time.time() - 0.1))
    assert assemblyai_emulator.count(path_prefix="/v2/") == sent
    for tid in ids:
        assemblyai_emulator.finish(tid)
    results = [await task for task in waits]
    assert all([e["status"] for e in events] == ["success"] for events in results)


async def test_connections_sharing_a_key_share_one_poller_and_another_key_gets_its_own(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    same = {
        "conn_type": "assemblyai",
        "password": assemblyai_emulator.api_key,
        "host": assemblyai_emulator.base_url,
    }
    other = {**same, "password": "another-key"}
    monkeypatch.setenv("AIRFLOW_CONN_AAI_SAME_KEY", json.dumps(same))
    monkeypatch.setenv("AIRFLOW_CONN_AAI_OTHER_KEY", json.dumps(other))
    tid = assemblyai_emulator.add_transcript(status="processing", params=REDACT)
    waits = [
        start(events_of(trigger_for(tid, conn)))
        for conn in ("assemblyai_default", "aai_same_key", "aai_other_key")
    ]
    await until(lambda: len(current_pollers()) == 2, "two pollers: one per account")
    keys = [poller.key for poller in current_pollers()]
    assert not any(
        assemblyai_emulator.api_key in part or "another-key" in part for key in keys for part in key
    )
    assemblyai_emulator.finish(tid)
    first, second, third = [await task for task in waits]
    assert [first[0]["status"], second[0]["status"]] == ["success", "success"]
    assert (third[0]["status"], third[0]["error_type"]) == ("error", "AssemblyAIAuthError")


async def test_the_hook_refuses_a_list_limit_above_the_maximum_before_any_request(
    assemblyai_emulator: Emulator,
) -> None:
    hook = AssemblyAIHook()
    with pytest.raises(AssemblyAIInvalidInputError, match="limit"):
        await hook.alist_transcript_page(limit=201)
    page = await hook.alist_transcript_page(limit=200)
    await hook.aclose()
    assert page["transcripts"] == []
    assert [r.query for r in assemblyai_emulator.requests] == [{"limit": "200"}]


async def test_a_slow_list_scan_does_not_turn_listed_waits_into_direct_checks(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a loaded triggerer a scan can outlast several intervals; what it listed is still news."""
    listing = AssemblyAIHook.alist_transcript_page

    async def slow_listing(self: AssemblyAIHook, **kwargs: Any) -> dict[str, Any]:
        await asyncio.sleep(6 * INTERVAL)  # longer than DIRECT_CHECK_EVERY intervals
        return await listing(self, **kwargs)

    monkeypatch.setattr(AssemblyAIHook, "alist_transcript_page", slow_listing)
    ids = [assemblyai_emulator.add_transcript(status="processing", params=REDACT) for _ in range(3)]
    waits = [start(events_of(trigger_for(tid))) for tid in ids]
    poller = await the_poller()
    await until(lambda: poller.cycles >= 4, "four poll cycles")
    assert all(
        assemblyai_emulator.count("GET", f"/v2/transcript/{tid}") == 0 for tid in ids
    )  # listed, never read
    for task in waits:
        task.cancel()
    await asyncio.gather(*waits, return_exceptions=True)


async def test_a_wait_that_brings_its_audio_format_is_never_read_only_asked(
    assemblyai_emulator: Emulator,
) -> None:
    # As the sensor defers: its inline poke just read the transcript, so the trigger carries the
    # format and the poller goes straight to the redacted-audio endpoint once the list says done.
    wav_params = WAV
    wav = assemblyai_emulator.add_transcript(
        status="processing", params=wav_params, faults=Faults(render_polls=1)
    )
    never_requested = assemblyai_emulator.add_transcript(status="processing", params={"redact_pii": False})
    unknown_format = assemblyai_emulator.add_transcript(status="processing", params=REDACT)

    def with_format(tid: str, audio_format: str | None) -> AssemblyAIRedactedAudioTrigger:
        trigger = trigger_for(tid)
        trigger.audio_format = audio_format  # type: ignore[assignment]
        return trigger

    waits = {
        wav: start(events_of(with_format(wav, "wav"))),
        never_requested: start(events_of(with_format(never_requested, "mp3"))),
        unknown_format: start(events_of(with_format(unknown_format, None))),
    }
    await the_poller()
    for tid in waits:
        assemblyai_emulator.finish(tid)
    results = {tid: await task for tid, task in waits.items()}

    assert results[wav] == [{"status": "success", "transcript_id": wav, "audio_format": "wav"}]
    assert results[never_requested][0]["error_type"] == "RedactionNotRequestedError"
    assert results[unknown_format][0]["status"] == "success"

    def reads(tid: str) -> int:
        return assemblyai_emulator.count("GET", f"/v2/transcript/{tid}") - assemblyai_emulator.count(
            "GET", f"/v2/transcript/{tid}/redacted-audio"
        )

    # The "doesn't exist" answer ends a wait only after one read of the transcript, which tells a
    # transcript that never asked for redacted audio from one whose speech model rendered none.
    assert (reads(wav), reads(never_requested), reads(unknown_format)) == (0, 1, 1)
    assert (
        assemblyai_emulator.count("GET", f"/v2/transcript/{wav}/redacted-audio") == 2
    )  # one 202, then ready


async def test_a_huge_retry_after_pauses_the_account_no_longer_than_the_hooks_cap(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection_with_retries(
        assemblyai_emulator, monkeypatch, max_attempts=2, retry_wait_initial=0.01, retry_wait_max=0.5
    )
    ids = [assemblyai_emulator.add_transcript(status="processing", params=REDACT) for _ in range(5)]
    waits = []
    for tid in ids:
        trigger = trigger_for(tid)
        trigger.end_time = time.time() + 20  # an hour's pause would end every wait in a timeout
        waits.append(start(events_of(trigger)))
    poller = await the_poller()
    await until(lambda: poller.cycles >= 2, "two poll cycles")
    assemblyai_emulator.queue_responses([429], retry_after=3600)
    noted = time.time()
    await until(lambda: poller.paused_until > 0, "the 429 reaches the poller")
    assert poller.paused_until - noted <= 0.5 + 0.1  # the hook's retry_wait_max, not the hour asked
    for tid in ids:
        assemblyai_emulator.finish(tid)
    results = [await task for task in waits]
    assert [events[0]["status"] for events in results] == ["success"] * len(ids)


@pytest.mark.parametrize("refusal", [401, 403])
async def test_one_refused_list_request_fails_nobody(assemblyai_emulator: Emulator, refusal: int) -> None:
    ids = [assemblyai_emulator.add_transcript(status="processing", params=REDACT) for _ in range(5)]
    waits = [start(events_of(trigger_for(tid))) for tid in ids]
    poller = await the_poller()
    await until(lambda: poller.cycles >= 2, "two poll cycles")
    assemblyai_emulator.queue_responses([refusal])
    await until(
        lambda: any(r.status == refusal for r in assemblyai_emulator.requests), f"the {refusal} is answered"
    )
    refused = [r for r in assemblyai_emulator.requests if r.status == refusal]
    assert [(r.method, r.path) for r in refused] == [("GET", "/v2/transcript")]
    for tid in ids:
        assemblyai_emulator.finish(tid)
    results = [await task for task in waits]
    assert [events[0]["status"] for events in results] == ["success"] * len(ids)


async def test_a_key_refused_on_every_cycle_fails_every_wait_after_the_retry_budget(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A revoked key: every request is refused. Two attempts: the first refusal is retried.
    monkeypatch.setenv(
        "AIRFLOW_CONN_ASSEMBLYAI_DEFAULT",
        json.dumps(
            {
                "conn_type": "assemblyai",
                "password": "revoked-key",
                "host": assemblyai_emulator.base_url,
                "extra": {"max_attempts": 2},
            }
        ),
    )
    ids = [assemblyai_emulator.add_transcript(status="completed", params=REDACT) for _ in range(3)]
    waits = [start(events_of(trigger_for(tid))) for tid in ids]
    results = [await task for task in waits]
    assert [(e[0]["status"], e[0]["error_type"]) for e in results] == [("error", "AssemblyAIAuthError")] * 3
    assert all("connection 'assemblyai_default'" in e[0]["message"] for e in results)
    refused = [(r.path, r.status) for r in assemblyai_emulator.requests]
    assert refused == [("/v2/transcript", 401)] * 2  # two list requests, no per-transcript request


async def test_each_wait_is_asked_at_its_own_interval_and_the_list_at_the_shortest_above_the_floor(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 waits at 3 s and one at 0.1 s, at a tenth of the time (0.3 s, 0.01 s; the floor 0.1 s)."""
    monkeypatch.setattr(poller_module, "MIN_POLL_INTERVAL", 0.1, raising=False)
    never_ready = Faults(render_polls=10**6)  # completed, its audio rendering all along: asked each turn
    slow = [
        assemblyai_emulator.add_transcript(status="completed", params=REDACT, faults=never_ready)
        for _ in range(20)
    ]
    fast = assemblyai_emulator.add_transcript(
        status="completed", params=REDACT, faults=Faults(render_polls=10**6)
    )

    def wait(tid: str, interval: float) -> asyncio.Task[list[dict[str, Any]]]:
        trigger = trigger_for(tid)
        trigger.poll_interval = interval
        trigger.audio_format = "mp3"
        return start(events_of(trigger))

    waits = [wait(tid, 0.3) for tid in slow] + [wait(fast, 0.01)]
    poller = await the_poller()
    await until(lambda: poller.cycles >= 2, "two poll cycles")

    def asks(tid: str) -> int:
        return assemblyai_emulator.count("GET", f"/v2/transcript/{tid}/redacted-audio")

    before = {tid: asks(tid) for tid in [*slow, fast]}
    lists_before = assemblyai_emulator.count("GET", "/v2/transcript") - sum(before.values())
    started = time.monotonic()
    await until(lambda: asks(slow[0]) >= before[slow[0]] + 6, "six more asks of one 0.3 s wait")
    elapsed = time.monotonic() - started
    after = {tid: asks(tid) for tid in [*slow, fast]}
    lists = assemblyai_emulator.count("GET", "/v2/transcript") - sum(after.values()) - lists_before
    for task in waits:
        task.cancel()
    await asyncio.gather(*waits, return_exceptions=True)

    # Each wait no more often than its own interval (±10 % jitter); the 0.01 s one gets the floor.
    for tid in slow:
        assert after[tid] - before[tid] <= elapsed / 0.27 + 2, (after[tid] - before[tid], elapsed)
    assert after[fast] - before[fast] <= elapsed / 0.09 + 2, (after[fast] - before[fast], elapsed)
    assert lists <= elapsed / 0.09 + 2, (lists, elapsed)


async def test_a_short_wait_joining_a_long_one_is_not_delayed_and_its_leaving_slows_the_list(
    assemblyai_emulator: Emulator,
) -> None:
    hourly = assemblyai_emulator.add_transcript(status="processing", params=REDACT)
    slow_trigger = trigger_for(hourly)
    slow_trigger.poll_interval = 3600
    slow_trigger.end_time = time.time() + 7200
    slow_wait = start(events_of(slow_trigger))
    poller = await the_poller()
    ready = assemblyai_emulator.add_transcript(status="completed", params=REDACT)
    quick_trigger = trigger_for(ready)
    quick_trigger.end_time = time.time() + 15  # the hour-long first cycle would time it out
    events = await events_of(quick_trigger)
    assert [e["status"] for e in events] == ["success"]

    # Only the hourly wait is left: the account's list runs hourly again.
    assert poller.list_interval == 3600
    sent = assemblyai_emulator.count(path_prefix="/v2/")
    await asyncio.sleep(10 * INTERVAL)
    assert assemblyai_emulator.count(path_prefix="/v2/") == sent
    slow_wait.cancel()
    await asyncio.gather(slow_wait, return_exceptions=True)


async def test_a_key_revoked_while_only_direct_checks_run_still_fails_the_wait(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cycles that send nothing (between direct checks) neither count a refusal nor forgive one."""
    monkeypatch.setattr(poller_module, "MAX_LIST_PAGES", 1)  # a cycle reads the newest 200 rows
    old = assemblyai_emulator.add_transcript(status="processing", params=REDACT)
    for _ in range(200):
        assemblyai_emulator.add_transcript(status="processing", params=REDACT)
    trigger = trigger_for(old)
    trigger.end_time = time.time() + 20
    wait = start(events_of(trigger))
    poller = await the_poller()
    await until(lambda: poller._watches[old].unlisted, "a full scan misses the old transcript")
    assemblyai_emulator.api_key = "rotated-key"  # every request of the account is refused from now on
    events = await wait
    assert (events[0]["status"], events[0]["error_type"]) == ("error", "AssemblyAIAuthError")
    assert [r.path for r in assemblyai_emulator.requests if r.status == 401] == [f"/v2/transcript/{old}"] * 2


async def test_one_refused_request_about_a_transcript_fails_nobody(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(
        status="processing", params=REDACT, faults=Faults(api_errors=[403])
    )
    wait = start(events_of(trigger_for(tid)))
    await the_poller()
    assemblyai_emulator.finish(tid)
    events = await wait
    assert [e["status"] for e in events] == ["success"]
    assert [(r.path, r.status) for r in assemblyai_emulator.requests if r.status == 403] == [
        (f"/v2/transcript/{tid}", 403)
    ]
