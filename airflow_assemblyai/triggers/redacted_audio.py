"""Wait for a transcript's redacted audio in the triggerer, without holding a worker slot."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent

from airflow_assemblyai.exceptions import AssemblyAIError, AssemblyAITransientError
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.ids import validate_transcript_id
from airflow_assemblyai.masking import mask_urls_in
from airflow_assemblyai.triggers.poller import Outcome, jittered, shared_poller

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from airflow_assemblyai.redaction import AudioFormat

__all__ = ["DEFAULT_POLL_INTERVAL", "AssemblyAIRedactedAudioTrigger", "jittered"]

#: Poll interval in seconds unless the DAG says otherwise; each wait is jittered by ±10 %.
DEFAULT_POLL_INTERVAL = 30.0


class AssemblyAIRedactedAudioTrigger(BaseTrigger):
    """Wait until a transcript's redacted audio is ready; yield exactly one event.

    The event's ``status`` is ``success`` (with ``audio_format``), ``error`` (a final answer, with
    ``error_type`` and ``message``) or ``timeout`` (``end_time`` passed). The wait joins the
    triggerer's shared poller of its account (:mod:`airflow_assemblyai.triggers.poller`), which
    learns many statuses per list request and asks the redacted-audio endpoint only for completed
    transcripts; its verdicts come from the same decision table as the sensor's. Passing faults
    count as "not yet": only ``end_time`` ends the wait. No event comes sooner than one (jittered)
    interval after the trigger starts, since the sensor polled just before deferring. A malformed
    ``transcript_id`` ends in one ``error`` event before any request.

    :param transcript_id: AssemblyAI transcript id.
    :param assemblyai_conn_id: Airflow connection of type ``assemblyai``.
    :param poll_interval: seconds between polls (jittered).
    :param end_time: wall-clock deadline, epoch seconds (survives a move to another triggerer).
    :param audio_format: the format the transcript asked for, when the sensor already read it; the
        poller then asks a completed transcript's redacted audio without reading it again.
    :param end_from_trigger: in a triggerer, end the task on success right here (a
        ``TaskSuccessEvent``, without XCom) instead of resuming it on a worker; errors and
        timeouts still resume it, so the sensor reports them. Runs that execute the trigger
        inline (``dag.test()``) always resume. For a sensor with ``do_xcom_push=False`` only:
        Airflow 3.2 and 3.3 store an XCom sent with that event JSON-encoded twice, so a task
        downstream would read a string.
    """

    def __init__(
        self,
        *,
        transcript_id: str,
        end_time: float,
        assemblyai_conn_id: str = AssemblyAIHook.default_conn_name,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        audio_format: AudioFormat | None = None,
        end_from_trigger: bool = False,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.transcript_id = transcript_id
        self.assemblyai_conn_id = assemblyai_conn_id
        self.poll_interval = poll_interval
        self.end_time = end_time
        self.audio_format = audio_format
        self.end_from_trigger = end_from_trigger

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the import path and the arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "transcript_id": self.transcript_id,
                "assemblyai_conn_id": self.assemblyai_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "audio_format": self.audio_format,
                "end_from_trigger": self.end_from_trigger,
            },
        )

    def _event(self, status: str, **fields: Any) -> TriggerEvent:
        return TriggerEvent({"status": status, "transcript_id": self.transcript_id, **fields})  # type: ignore[no-untyped-call]

    def _error(self, exc: AssemblyAIError) -> TriggerEvent:
        # The event is stored in the metadata database: mask any URL a message may still carry.
        return self._event("error", error_type=type(exc).__name__, message=mask_urls_in(str(exc)))

    def _timeout(self) -> TriggerEvent:
        return self._event(
            "timeout", message=f"Redacted audio of transcript {self.transcript_id} was not ready in time."
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait through the shared poller until ready, final error or ``end_time``; yield one event."""
        # Wait at least one interval: the sensor polled just before deferring, and an event fired
        # within seconds of deferral can race Airflow's scheduler (docs/batches.md#batch-dag).
        earliest = time.time() + jittered(self.poll_interval)
        hook = AssemblyAIHook(self.assemblyai_conn_id)
        try:
            transcript_id = validate_transcript_id(self.transcript_id)
            settings = await hook.aget_settings()
        except AssemblyAIError as exc:
            yield self._error(exc)
            return
        poller = shared_poller(settings, self.assemblyai_conn_id)
        outcome_of = poller.register(transcript_id, self.poll_interval, audio_format=self.audio_format)
        self.log.info(
            "Trigger: waiting for transcript %s through the account's shared poller (every %.0f s)",
            transcript_id,
            self.poll_interval,
        )
        try:
            try:
                outcome = await asyncio.wait_for(
                    asyncio.shield(outcome_of), timeout=max(0.0, self.end_time - time.time())
                )
            except TimeoutError:
                outcome = None
            await asyncio.sleep(max(0.0, min(earliest, self.end_time) - time.time()))
        finally:
            poller.unregister(transcript_id)
        if outcome is None:
            outcome = await _last_look(hook, transcript_id)
        self.log.info("Trigger: transcript %s %s", transcript_id, _describe_outcome(outcome))
        if outcome is None:
            yield self._timeout()
        elif isinstance(outcome, AssemblyAIError):
            yield self._error(outcome)
        elif self.end_from_trigger and self.task_instance is not None:
            # The task is over and hands no XCom: mark it done from here, sparing a worker the resume.
            self.log.info("Trigger: ending the task from the triggerer (no XCom to hand over)")
            yield TaskSuccessEvent()
        else:
            yield self._event("success", audio_format=outcome.audio_format)


async def _last_look(hook: AssemblyAIHook, transcript_id: str) -> Outcome | None:
    """Poll once more when time is up, as a poke-mode sensor pokes before it times out.

    Without it a wait whose deadline passed while it was deferred (a busy triggerer, a slow task
    start) would time out without asking again. Return None when it is still not ready, or when
    the answer is a passing fault: the timeout stands then.
    """
    try:
        verdict = await hook.apoll_redacted_audio(transcript_id)
    except AssemblyAITransientError:
        return None
    except AssemblyAIError as exc:
        return exc
    finally:
        await hook.aclose()
    return verdict if verdict.ready else None


def _describe_outcome(outcome: object) -> str:
    """Say in a few words how a wait ended, for the task log."""
    if outcome is None:
        return "was not ready in time"
    if isinstance(outcome, AssemblyAIError):
        return f"failed: {type(outcome).__name__}"
    return "has its redacted audio ready"
