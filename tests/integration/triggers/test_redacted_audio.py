"""The trigger against the emulator, on a real event loop."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace

import pytest
from airflow.triggers.base import TaskSuccessEvent

from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.triggers.redacted_audio import AssemblyAIRedactedAudioTrigger
from tests.support import REDACT, WAV, transcript_reads

pytestmark = pytest.mark.usefixtures("assemblyai_connection")


async def events_of(trigger: AssemblyAIRedactedAudioTrigger) -> list[dict[str, object]]:
    """Run the trigger to its end and return every event it yielded."""
    return [event.payload async for event in trigger.run()]


def trigger_for(transcript_id: str, seconds: float = 20.0) -> AssemblyAIRedactedAudioTrigger:
    return AssemblyAIRedactedAudioTrigger(
        transcript_id=transcript_id, poll_interval=0.05, end_time=time.time() + seconds
    )


async def test_waits_through_processing_and_rendering_then_one_success(assemblyai_emulator: Emulator) -> None:
    assemblyai_emulator.next_faults = Faults(processing_seconds=0.3, render_seconds=0.3)
    from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook

    hook = AssemblyAIHook()
    tid = (
        await hook.asubmit_transcript(
            assemblyai_emulator.sample_audio_url, **REDACT, redact_pii_audio_quality="wav"
        )
    )["id"]
    await hook.aclose()
    events = await events_of(trigger_for(tid))
    assert events == [{"status": "success", "transcript_id": tid, "audio_format": "wav"}]
    assert (
        assemblyai_emulator.count("GET", f"/v2/transcript/{tid}/redacted-audio") >= 2
    )  # saw 202 before ready


@pytest.mark.parametrize(
    ("seed", "error_type"),
    [
        ({"status": "error", "faults": Faults(error="Audio is silent")}, "TranscriptFailedError"),
        ({"params": {"redact_pii": False}}, "RedactionNotRequestedError"),
    ],
)
async def test_final_answers_end_with_one_error_event(
    assemblyai_emulator: Emulator, seed: dict[str, object], error_type: str
) -> None:
    tid = assemblyai_emulator.add_transcript(**{"params": REDACT, **seed})  # type: ignore[arg-type]
    events = await events_of(trigger_for(tid))
    assert len(events) == 1
    assert events[0]["status"] == "error"
    assert events[0]["error_type"] == error_type


async def test_a_failed_transcripts_presigned_url_never_reaches_the_event_or_logs(
    assemblyai_emulator: Emulator, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    signature = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    presigned = (
        "https://uploads.s3.amazonaws.com/calls/caller-jane-doe.wav?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential=ASIAEXAMPLEKEY42%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature={signature}"
    )
    error = f"Download error, unable to download {presigned}"
    tid = assemblyai_emulator.add_transcript(status="error", params=REDACT, faults=Faults(error=error))
    events = await events_of(trigger_for(tid))
    assert [(e["status"], e["error_type"]) for e in events] == [("error", "TranscriptFailedError")]
    stored = json.dumps(events)  # what the metadata database would hold
    assert "Download error, unable to download https://uploads.s3.amazonaws.com/***" in stored
    logs = "".join(capfd.readouterr()) + caplog.text
    for part in (signature, "ASIAEXAMPLEKEY42", "caller-jane-doe", "X-Amz-"):
        assert part not in stored
        assert part not in logs


async def test_a_none_id_is_one_error_event_naming_the_template_mistake(
    assemblyai_emulator: Emulator,
) -> None:
    events = await events_of(trigger_for("None"))
    assert [(e["status"], e["error_type"]) for e in events] == [("error", "AssemblyAIInvalidInputError")]
    assert "xcom_pull" in str(events[0]["message"])
    assert not assemblyai_emulator.requests


async def test_unknown_transcript_is_an_error_event(assemblyai_emulator: Emulator) -> None:
    events = await events_of(trigger_for("never-known"))
    assert [(e["status"], e["error_type"]) for e in events] == [("error", "TranscriptNotFoundError")]


async def test_expired_audio_is_an_error_event(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params=REDACT)
    assemblyai_emulator.expire(tid)
    events = await events_of(trigger_for(tid))
    assert [(e["status"], e["error_type"]) for e in events] == [("error", "RedactedAudioExpiredError")]


async def test_passing_faults_do_not_end_the_wait(assemblyai_emulator: Emulator) -> None:
    # 2 attempts per poll: six 503s spend the hook's budget three polls in a row, then it succeeds.
    tid = assemblyai_emulator.add_transcript(params=REDACT, faults=Faults(api_errors=[503] * 6))
    events = await events_of(trigger_for(tid))
    assert [e["status"] for e in events] == ["success"]


async def test_timeout_is_one_event(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(status="processing", params=REDACT)
    events = await events_of(trigger_for(tid, seconds=0.3))
    assert [e["status"] for e in events] == ["timeout"]


async def test_a_deadline_passed_while_deferred_still_gets_a_last_look(assemblyai_emulator: Emulator) -> None:
    # The triggerer picked the wait up after its end_time (a slow task start, a busy triggerer):
    # it asks once more, as a poke-mode sensor pokes before it times out, and finds it ready.
    tid = assemblyai_emulator.add_transcript(params=REDACT)
    events = await events_of(trigger_for(tid, seconds=-1))
    assert [e["status"] for e in events] == ["success"]
    assert transcript_reads(assemblyai_emulator, tid) == 1


async def test_a_last_look_that_finds_it_still_processing_is_a_timeout(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(status="processing", params=REDACT)
    events = await events_of(trigger_for(tid, seconds=-1))
    assert [e["status"] for e in events] == ["timeout"]
    assert transcript_reads(assemblyai_emulator, tid) == 1


async def test_a_last_look_that_finds_a_final_error_reports_it(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(status="error", params=REDACT)
    events = await events_of(trigger_for(tid, seconds=-1))
    assert [(e["status"], e["error_type"]) for e in events] == [("error", "TranscriptFailedError")]


async def test_cancelled_trigger_stops_the_polling(assemblyai_emulator: Emulator) -> None:
    from airflow_assemblyai.triggers.poller import current_pollers

    tid = assemblyai_emulator.add_transcript(status="processing", params=REDACT)
    task = asyncio.ensure_future(events_of(trigger_for(tid)))
    deadline = time.monotonic() + 10
    while assemblyai_emulator.count("GET", "/v2/transcript") < 2 and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    assert assemblyai_emulator.count("GET", "/v2/transcript") >= 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not current_pollers()  # the last wait left: its account's poller stopped
    polls = assemblyai_emulator.count(path_prefix="/v2/")
    await asyncio.sleep(0.3)
    assert assemblyai_emulator.count(path_prefix="/v2/") == polls  # nothing polls after cancellation


@pytest.mark.parametrize("transcript_id", ["x/../{other}", "{other}?x=1", " ", "a" * 129])
async def test_malformed_id_is_one_error_event_before_any_request(
    assemblyai_emulator: Emulator, transcript_id: str
) -> None:
    other = assemblyai_emulator.add_transcript(params=REDACT)
    events = await events_of(trigger_for(transcript_id.format(other=other)))
    assert [(e["status"], e["error_type"]) for e in events] == [("error", "AssemblyAIInvalidInputError")]
    assert "transcript_id" in str(events[0]["message"])
    assert not assemblyai_emulator.requests


async def test_the_first_poll_waits_one_interval_after_deferral(assemblyai_emulator: Emulator) -> None:
    """The sensor polled just before deferring: asking again at once only feeds Airflow's defer race."""
    tid = assemblyai_emulator.add_transcript(params=REDACT)  # ready: a poll would succeed at once
    trigger = AssemblyAIRedactedAudioTrigger(transcript_id=tid, poll_interval=600, end_time=time.time() + 900)
    first = asyncio.ensure_future(anext(trigger.run()))
    done, _ = await asyncio.wait({first}, timeout=1.0)
    assert not done  # still in its first interval
    assert assemblyai_emulator.count(path_prefix="/v2/") == 0
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_in_a_triggerer_a_ready_wait_can_end_the_task_and_errors_still_resume(
    assemblyai_emulator: Emulator,
) -> None:
    ready = assemblyai_emulator.add_transcript(params=WAV)
    failed = assemblyai_emulator.add_transcript(
        status="error", params=REDACT, faults=Faults(error="Audio is silent")
    )
    bound = SimpleNamespace(task_id="wait")  # what a triggerer sets; dag.test() sets none

    def ending(tid: str, task_instance: object) -> AssemblyAIRedactedAudioTrigger:
        trigger = trigger_for(tid)
        trigger.end_from_trigger = True
        trigger.task_instance = task_instance  # type: ignore[assignment]
        return trigger

    [ended] = [event async for event in ending(ready, bound).run()]
    assert isinstance(ended, TaskSuccessEvent)
    assert ended.xcoms is None
    [error] = [event async for event in ending(failed, bound).run()]
    assert not isinstance(error, TaskSuccessEvent)
    assert error.payload["error_type"] == "TranscriptFailedError"  # the sensor resumes to report it
    inline = await events_of(ending(ready, None))
    assert inline == [{"status": "success", "transcript_id": ready, "audio_format": "wav"}]
