"""Wait until AssemblyAI has rendered a transcript's PII-redacted audio."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowSensorTimeout

from airflow_assemblyai import exceptions
from airflow_assemblyai.exceptions import (
    AssemblyAIError,
    AssemblyAIFinalError,
    AssemblyAITransientError,
    AssemblyAIUnexpectedResponseError,
)
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.ids import validate_transcript_id
from airflow_assemblyai.masking import mask_urls_in
from airflow_assemblyai.triggers.redacted_audio import DEFAULT_POLL_INTERVAL, AssemblyAIRedactedAudioTrigger

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from airflow_assemblyai.redaction import AudioFormat


class AssemblyAIRedactedAudioSensor(BaseSensorOperator):
    """Wait until a transcript's redacted audio is ``redacted_audio_ready``.

    Works in ``poke``, ``reschedule`` and deferrable mode; deferred, it pokes once first so a ready
    transcript costs no deferral. Returns ``{"transcript_id": ..., "audio_format": "mp3"|"wav"}``
    (never the pre-signed URL, which the transfer fetches fresh). With ``do_xcom_push=False``, a
    deferred wait that ends ready is finished by the triggerer itself: no worker resumes it
    (errors and timeouts still resume, to be reported here).

    A final answer (wrong key, unknown or failed transcript, redaction never requested, file
    expired) fails the task at once without retries. ``soft_fail`` and ``never_fail`` keep
    Airflow's meaning in every mode (docs/failures.md#soft-fail-and-never-fail tabulates them); a malformed
    ``transcript_id`` fails the task before any request, whatever they say. Passing faults (408,
    429, 5xx, timeouts) are retried inside the hook; if they persist, the poke counts as "not yet"
    and only ``timeout`` ends the wait.

    :param transcript_id: AssemblyAI transcript id (templated).
    :param assemblyai_conn_id: Airflow connection of type ``assemblyai``.
    :param deferrable: hand the wait to the triggerer (default ``[operators] default_deferrable``).
    :param poke_interval: seconds between polls (default 30; AssemblyAI allows 20,000 requests per 5 min).
    """

    template_fields: Sequence[str] = ("transcript_id",)
    ui_color = "#dbe8ff"

    def __init__(
        self,
        *,
        transcript_id: str,
        assemblyai_conn_id: str = AssemblyAIHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: float = DEFAULT_POLL_INTERVAL,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.transcript_id = transcript_id
        self.assemblyai_conn_id = assemblyai_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> AssemblyAIHook:
        """Return the hook of ``assemblyai_conn_id``."""
        return AssemblyAIHook(self.assemblyai_conn_id)

    def execute(self, context: Context) -> Any:
        """Check the rendered transcript id, then wait by poking, rescheduling or deferring."""
        # Checked before the base class's poke loop: a malformed id is a DAG error, not an answer
        # from AssemblyAI, so it fails the task even with soft_fail or never_fail.
        self.transcript_id = validate_transcript_id(self.transcript_id)
        return super().execute(context)

    def poke(self, context: Context) -> PokeReturnValue | bool:
        """Poll once: done when the redacted audio is ready; deferrable, hand a wait to the trigger."""
        try:
            verdict = self.hook.poll_redacted_audio(self.transcript_id)
        except AssemblyAITransientError as exc:
            self.log.warning("Transcript %s: transient fault, still waiting: %s", self.transcript_id, exc)
            verdict = None
        if verdict is not None and verdict.ready:
            self.log.info(
                "Transcript %s: redacted audio is ready (%s)", self.transcript_id, verdict.audio_format
            )
            return PokeReturnValue(
                is_done=True,
                xcom_value={"transcript_id": self.transcript_id, "audio_format": verdict.audio_format},
            )
        if verdict is not None:
            self.log.info("Transcript %s: waiting (%s)", self.transcript_id, verdict.reason)
        if self.deferrable:
            # Deferring from the poke lets the first, inline poke run inside the base class's
            # loop, so soft_fail and never_fail treat it exactly as they treat any other poke.
            self._defer(verdict.audio_format if verdict is not None else None)
        return False

    def _defer(self, audio_format: AudioFormat | None) -> NoReturn:
        self.defer(
            trigger=AssemblyAIRedactedAudioTrigger(
                transcript_id=self.transcript_id,
                assemblyai_conn_id=self.assemblyai_conn_id,
                poll_interval=self.poke_interval,
                end_time=time.time() + self.timeout,
                audio_format=audio_format,
                # The triggerer can end the task itself only when it has no XCom to hand over.
                end_from_trigger=not self.do_xcom_push,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, str]:
        """Turn the trigger's event into the XCom value, a timeout or the final error."""
        transcript_id = validate_transcript_id(self.transcript_id)  # re-rendered on resume
        if not isinstance(event, dict) or event.get("transcript_id") != transcript_id:
            raise AssemblyAIUnexpectedResponseError(
                f"The trigger sent an event for another transcript or none at all: {event!r}"
            )
        status = event.get("status")
        self.log.info("Transcript %s: resumed after the trigger's %s event", transcript_id, status)
        if status == "success" and event.get("audio_format") in ("mp3", "wav"):
            return {"transcript_id": transcript_id, "audio_format": str(event["audio_format"])}
        if status == "timeout":
            raise AirflowSensorTimeout(str(event.get("message") or "Timed out."))
        if status == "error":
            error_class = getattr(exceptions, str(event.get("error_type")), None)
            if not (isinstance(error_class, type) and issubclass(error_class, AssemblyAIError)):
                error_class = AssemblyAIFinalError
            # Masked again: an event stored by an earlier release may still carry a pre-signed URL.
            raise error_class(mask_urls_in(str(event.get("message"))))
        raise AssemblyAIUnexpectedResponseError(f"The trigger sent an unknown event: {event!r}")
