"""Wait for a transcript's redacted audio in the triggerer, without holding a worker slot."""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_assemblyai.exceptions import (
    AssemblyAIError,
    AssemblyAIInvalidInputError,
    AssemblyAITransientError,
)
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.ids import validate_transcript_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

#: Poll interval in seconds unless the DAG says otherwise; each wait is jittered by ±10 %.
DEFAULT_POLL_INTERVAL = 30.0


def jittered(seconds: float) -> float:
    """Return ``seconds`` ± 10 %, so many waits started together do not poll in lockstep."""
    return seconds * random.uniform(0.9, 1.1)


class AssemblyAIRedactedAudioTrigger(BaseTrigger):
    """Poll AssemblyAI until a transcript's redacted audio is ready; yield exactly one event.

    The event's ``status`` is ``success`` (with ``audio_format``), ``error`` (a final answer, with
    ``error_type`` and ``message``) or ``timeout`` (``end_time`` passed). Passing faults that
    outlive the hook's retries count as "not yet", as they do for a poking sensor: only
    ``end_time`` ends the wait. The verdict comes from the hook's ``apoll_redacted_audio``, the
    same decision the sensor uses. A malformed ``transcript_id`` ends in one ``error`` event before
    any request.

    :param transcript_id: AssemblyAI transcript id.
    :param assemblyai_conn_id: Airflow connection of type ``assemblyai``.
    :param poll_interval: seconds between polls (jittered).
    :param end_time: wall-clock deadline, epoch seconds (survives a move to another triggerer).
    """

    def __init__(
        self,
        *,
        transcript_id: str,
        end_time: float,
        assemblyai_conn_id: str = AssemblyAIHook.default_conn_name,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.transcript_id = transcript_id
        self.assemblyai_conn_id = assemblyai_conn_id
        self.poll_interval = poll_interval
        self.end_time = end_time

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the import path and the arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "transcript_id": self.transcript_id,
                "assemblyai_conn_id": self.assemblyai_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
            },
        )

    def _event(self, status: str, **fields: Any) -> TriggerEvent:
        return TriggerEvent({"status": status, "transcript_id": self.transcript_id, **fields})  # type: ignore[no-untyped-call]

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until ready, final error or ``end_time``; yield one event and return."""
        try:
            transcript_id = validate_transcript_id(self.transcript_id)
        except AssemblyAIInvalidInputError as exc:
            yield self._event("error", error_type=type(exc).__name__, message=str(exc))
            return
        hook = AssemblyAIHook(self.assemblyai_conn_id)
        passing_failures = 0
        last_reason = ""
        try:
            while True:
                # Wait first: the sensor polled just before deferring, and an event fired within
                # seconds of deferral can race Airflow's scheduler (README, "Batches").
                remaining = self.end_time - time.time()
                await asyncio.sleep(max(0.0, min(jittered(self.poll_interval), remaining)))
                try:
                    verdict = await hook.apoll_redacted_audio(transcript_id)
                except AssemblyAITransientError as exc:
                    passing_failures += 1
                    self.log.warning(
                        "Trigger: transcript %s passing fault, still waiting (%d in a row): %s",
                        self.transcript_id,
                        passing_failures,
                        exc,
                    )
                except AssemblyAIError as exc:
                    yield self._event("error", error_type=type(exc).__name__, message=str(exc))
                    return
                else:
                    passing_failures = 0
                    if verdict.ready:
                        yield self._event("success", audio_format=verdict.audio_format)
                        return
                    if verdict.reason != last_reason:  # log each change, not every poll
                        self.log.info(
                            "Trigger: transcript %s still waiting (%s)", self.transcript_id, verdict.reason
                        )
                        last_reason = verdict.reason
                if time.time() >= self.end_time:
                    yield self._event(
                        "timeout",
                        message=f"Redacted audio of transcript {self.transcript_id} was not ready in time.",
                    )
                    return
        finally:
            await hook.aclose()
