"""What a failed archive tells about the transcript left at AssemblyAI: found through the emulator's list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from airflow_assemblyai.archive.retention import completion_time, still_held_note
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.testing.emulator import Emulator


@pytest.fixture
def hook(assemblyai_connection: Emulator) -> Iterator[AssemblyAIHook]:
    hook = AssemblyAIHook()
    yield hook
    hook.close()


def test_the_completion_time_is_found_in_the_account_list_beyond_the_first_page(
    assemblyai_connection: Emulator, hook: AssemblyAIHook
) -> None:
    emulator = assemblyai_connection
    before = datetime.now(UTC)
    wanted = emulator.add_transcript()
    for _ in range(3):
        emulator.add_transcript()
    completed = completion_time(hook, wanted, pages=1)
    assert completed is not None
    assert before - timedelta(seconds=1) <= completed <= datetime.now(UTC)

    emulator.reset()
    wanted = emulator.add_transcript()
    for _ in range(205):  # more than one page of 200, newest first: the wanted one is on page two
        emulator.add_transcript()
    assert completion_time(hook, wanted, pages=1) is None
    assert completion_time(hook, wanted, pages=2) is not None


def test_an_unknown_transcript_has_no_completion_time(hook: AssemblyAIHook) -> None:
    assert completion_time(hook, "5551e2ba-0e53-4bd5-9d49-4b1f0f5b3a1c") is None


def test_the_note_names_the_transcript_the_time_left_and_the_task_to_rerun() -> None:
    completed = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    note = still_held_note(
        "t-1", completed=completed, task_id="archive_to_s3", now=completed + timedelta(hours=3, minutes=15)
    )
    assert "Transcript t-1 is still held at AssemblyAI, with its PII, and was not purged." in note
    assert "kept until 2026-12-04 10:00 UTC, 20 h 45 min from now" in note
    assert "Re-run only the task 'archive_to_s3'" in note


def test_the_note_says_when_the_audio_is_gone_or_the_time_unknown() -> None:
    completed = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    gone = still_held_note("t-1", completed=completed, task_id="archive", now=completed + timedelta(hours=25))
    assert "was kept until 2026-12-02 10:00 UTC" in gone
    assert "submit the recording again" in gone
    unknown = still_held_note("t-1", completed=None, task_id="archive")
    assert "kept for 24 hours from the transcript's completion" in unknown
    assert "Re-run only the task 'archive'" in unknown
