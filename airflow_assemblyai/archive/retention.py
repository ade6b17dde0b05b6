"""How long AssemblyAI keeps a redacted audio file, and what a failed archive must tell its reader.

AssemblyAI keeps the redacted audio for 24 hours (its API spec), and the transcript, with its PII,
until it is deleted. When the archive fails for good, the task's error says which transcript is
still held there, how much of the 24 hours is left, and which task to re-run: re-running the
archive task alone submits and pays nothing again. The completion time comes from the account's
transcript list (``completed``; the transcript object itself carries no time), read as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook

#: How long AssemblyAI keeps a redacted audio file after the transcript completed.
REDACTED_AUDIO_KEPT = timedelta(hours=24)
#: Pages of 200 transcripts searched for the completion time (the newest 1,000 completed ones).
SEARCH_PAGES = 5


def completion_time(
    hook: AssemblyAIHook, transcript_id: str, *, pages: int = SEARCH_PAGES
) -> datetime | None:
    """Return when AssemblyAI completed ``transcript_id`` (UTC); None when not in the newest pages."""
    before_id: str | None = None
    for _ in range(pages):
        page = hook.list_transcript_page(status="completed", before_id=before_id)
        rows = page.get("transcripts") or []
        for row in rows:
            if row.get("id") == transcript_id:
                return _parse_time(row.get("completed"))
        if not rows or not (page.get("page_details") or {}).get("prev_url"):
            return None
        before_id = str(rows[-1].get("id"))
    return None


def still_held_note(
    transcript_id: str, *, completed: datetime | None, task_id: str, now: datetime | None = None
) -> str:
    """Return the sentence a final archive failure ends with: what is held, for how long, what to re-run."""
    held = f"Transcript {transcript_id} is still held at AssemblyAI, with its PII, and was not purged."
    rerun = (
        f"Re-run only the task {task_id!r} (clear it) once the cause is fixed: nothing is submitted or "
        "paid for again."
    )
    if completed is None:
        return (
            f"{held} Its redacted audio is kept for 24 hours from the transcript's completion (the "
            f"completion time was not found in the account's newest transcripts). {rerun}"
        )
    deadline = completed + REDACTED_AUDIO_KEPT
    left = deadline - (now or datetime.now(UTC))
    if left <= timedelta(0):
        return (
            f"{held} Its redacted audio was kept until {deadline:%Y-%m-%d %H:%M} UTC (24 hours from "
            "completion) and is gone: submit the recording again, then delete this transcript."
        )
    hours, minutes = divmod(int(left.total_seconds()) // 60, 60)
    return (
        f"{held} Its redacted audio is kept until {deadline:%Y-%m-%d %H:%M} UTC, {hours} h {minutes} min "
        f"from now (24 hours from completion). {rerun}"
    )


def _parse_time(value: object) -> datetime | None:
    """Parse AssemblyAI's ISO time (no zone given: UTC) or return None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
