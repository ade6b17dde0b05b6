"""Trigger serialization and the sensor's event handling (no network)."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout

from airflow_assemblyai.exceptions import (
    AssemblyAIFinalError,
    AssemblyAIInvalidInputError,
    AssemblyAIUnexpectedResponseError,
    RedactionNotRequestedError,
    TranscriptFailedError,
)
from airflow_assemblyai.sensors.redacted_audio import AssemblyAIRedactedAudioSensor
from airflow_assemblyai.triggers.redacted_audio import AssemblyAIRedactedAudioTrigger, jittered


def test_trigger_serialization_round_trip() -> None:
    trigger = AssemblyAIRedactedAudioTrigger(
        transcript_id="t1",
        assemblyai_conn_id="my_conn",
        poll_interval=12.5,
        end_time=1_900_000_000.25,
        audio_format="wav",
        end_from_trigger=True,
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_assemblyai.triggers.redacted_audio.AssemblyAIRedactedAudioTrigger"
    rebuilt = AssemblyAIRedactedAudioTrigger(**kwargs)
    assert rebuilt.serialize() == (path, kwargs)
    assert kwargs == {
        "transcript_id": "t1",
        "assemblyai_conn_id": "my_conn",
        "poll_interval": 12.5,
        "end_time": 1_900_000_000.25,
        "audio_format": "wav",
        "end_from_trigger": True,
    }
    # A trigger serialized by an earlier release still rebuilds, resuming on a worker as it did.
    del kwargs["audio_format"], kwargs["end_from_trigger"]
    earlier = AssemblyAIRedactedAudioTrigger(**kwargs)
    assert (earlier.audio_format, earlier.end_from_trigger) == (None, False)


def test_jitter_stays_within_ten_percent() -> None:
    samples = [jittered(30.0) for _ in range(500)]
    assert min(samples) >= 27.0
    assert max(samples) <= 33.0
    assert len(set(samples)) > 1


@pytest.fixture
def sensor() -> AssemblyAIRedactedAudioSensor:
    return AssemblyAIRedactedAudioSensor(task_id="wait", transcript_id="t1")


def test_success_event_returns_id_and_format_only(sensor: AssemblyAIRedactedAudioSensor) -> None:
    event = {"status": "success", "transcript_id": "t1", "audio_format": "wav"}
    assert sensor.execute_complete({}, event) == {"transcript_id": "t1", "audio_format": "wav"}  # type: ignore[arg-type]


def test_timeout_event_is_a_sensor_timeout(sensor: AssemblyAIRedactedAudioSensor) -> None:
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete({}, {"status": "timeout", "transcript_id": "t1", "message": "late"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error_type", "expected"),
    [
        ("TranscriptFailedError", TranscriptFailedError),
        ("RedactionNotRequestedError", RedactionNotRequestedError),
        ("SomethingUnknown", AssemblyAIFinalError),
        ("__class__", AssemblyAIFinalError),
    ],
)
def test_error_event_raises_the_final_error(
    sensor: AssemblyAIRedactedAudioSensor, error_type: str, expected: type
) -> None:
    event = {"status": "error", "transcript_id": "t1", "error_type": error_type, "message": "why"}
    with pytest.raises(expected, match="why"):
        sensor.execute_complete({}, event)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "event",
    [
        None,
        {"status": "success", "transcript_id": "other", "audio_format": "mp3"},
        {"status": "success", "transcript_id": "t1"},
        {"status": "bogus", "transcript_id": "t1"},
    ],
)
def test_unknown_or_foreign_events_are_rejected(sensor: AssemblyAIRedactedAudioSensor, event: object) -> None:
    with pytest.raises(AssemblyAIUnexpectedResponseError):
        sensor.execute_complete({}, event)  # type: ignore[arg-type]


def test_empty_transcript_id_fails_before_any_request() -> None:
    sensor = AssemblyAIRedactedAudioSensor(task_id="wait", transcript_id=" ")
    with pytest.raises(AssemblyAIInvalidInputError, match="transcript_id is empty"):
        sensor.poke({})  # type: ignore[arg-type]


def test_deferrable_defaults_to_the_airflow_setting() -> None:
    from airflow.sdk import conf

    expected = conf.getboolean("operators", "default_deferrable", fallback=False)
    assert AssemblyAIRedactedAudioSensor(task_id="w", transcript_id="t").deferrable is expected


def test_an_error_event_from_an_earlier_release_is_masked_before_it_is_raised(
    sensor: AssemblyAIRedactedAudioSensor,
) -> None:
    stored = (
        "Transcript t1 failed at AssemblyAI: Download error, unable to download "
        "https://b.s3.amazonaws.com/a.wav?X-Amz-Signature=5ecret5ignature"
    )
    event = {
        "status": "error",
        "transcript_id": "t1",
        "error_type": "TranscriptFailedError",
        "message": stored,
    }
    with pytest.raises(TranscriptFailedError) as info:
        sensor.execute_complete({}, event)  # type: ignore[arg-type]
    assert "5ecret5ignature" not in str(info.value)
    assert "unable to download https://b.s3.amazonaws.com/***" in str(info.value)
