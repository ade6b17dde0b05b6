"""A final archive failure says which transcript AssemblyAI still holds, its time left, and what to re-run."""

from __future__ import annotations

import re
from typing import Any

import pytest

from airflow_assemblyai.exceptions import (
    AssemblyAIFinalError,
    RedactedAudioIntegrityError,
    TranscriptNotFoundError,
)
from airflow_assemblyai.testing.emulator import Emulator
from tests.integration.transfers.transfer_support import run, transfer
from tests.support import WAV


class _TryOf:
    """The two attributes of a task instance the transfer reads to know whether Airflow retries."""

    def __init__(self, try_number: int, max_tries: int) -> None:
        self.try_number, self.max_tries = try_number, max_tries


def test_a_final_failure_names_the_transcript_its_time_left_and_the_task_to_rerun(
    emu: Emulator, s3_bucket: str
) -> None:
    transcript_id = emu.add_transcript(params=WAV)
    operator = transfer(transcript_id=transcript_id, s3_bucket="no-such-bucket-for-the-note", s3_key="a.wav")
    with pytest.raises(AssemblyAIFinalError) as caught:
        run(operator)
    message = str(caught.value)
    assert "S3 bucket 'no-such-bucket-for-the-note' does not exist" in message  # the cause comes first
    held = f"Transcript {transcript_id} is still held at AssemblyAI, with its PII, and was not purged."
    assert held in message
    time_left = r"kept until \S+ \S+ UTC, 2[34] h \d+ min from now \(24 hours from completion\)"
    assert re.search(time_left, message)
    assert "Re-run only the task 'copy_redacted_audio'" in message
    assert emu.api_key not in message


def test_a_passing_failure_that_airflow_will_retry_carries_no_note(emu: Emulator, s3_bucket: str) -> None:
    transcript_id = emu.add_transcript(params=WAV)
    emu.corrupt_redacted_audio(transcript_id, offset=100)
    operator = transfer(transcript_id=transcript_id, s3_bucket=s3_bucket, s3_key="a.wav")
    context: Any = {"ti": _TryOf(try_number=1, max_tries=2)}
    with pytest.raises(RedactedAudioIntegrityError) as caught:
        operator.execute(context)
    assert "still held at AssemblyAI" not in str(caught.value)

    context = {"ti": _TryOf(try_number=3, max_tries=2)}  # the last try: Airflow will not retry
    with pytest.raises(RedactedAudioIntegrityError) as caught:
        operator.execute(context)
    assert f"Transcript {transcript_id} is still held at AssemblyAI" in str(caught.value)


def test_a_transcript_assemblyai_does_not_know_is_not_said_to_be_held_there(
    emu: Emulator, s3_bucket: str
) -> None:
    unknown = "0f8fad5b-d9cb-469f-a165-70867728950e"
    with pytest.raises(TranscriptNotFoundError) as caught:
        run(transfer(transcript_id=unknown, s3_bucket=s3_bucket, s3_key="a.wav"))
    assert "still held at AssemblyAI" not in str(caught.value)
