"""Delete a transcript's data at AssemblyAI once its redacted audio is archived."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context


class AssemblyAIDeleteTranscriptOperator(BaseOperator):
    """Delete a transcript at AssemblyAI, so its PII does not outlive its purpose.

    Deleting a transcript that is already deleted succeeds (a retried task is harmless); an id
    AssemblyAI never knew fails without retries.

    :param transcript_id: AssemblyAI transcript id (templated).
    :param assemblyai_conn_id: Airflow connection of type ``assemblyai``.
    """

    template_fields: Sequence[str] = ("transcript_id",)
    ui_color = "#ffe6e6"

    def __init__(
        self,
        *,
        transcript_id: str,
        assemblyai_conn_id: str = AssemblyAIHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.transcript_id = transcript_id
        self.assemblyai_conn_id = assemblyai_conn_id

    @cached_property
    def hook(self) -> AssemblyAIHook:
        """Return the hook of ``assemblyai_conn_id``."""
        return AssemblyAIHook(self.assemblyai_conn_id)

    def execute(self, context: Context) -> None:
        """Delete the transcript."""
        self.hook.delete_transcript(str(self.transcript_id))
        self.log.info("Deleted transcript %s at AssemblyAI", self.transcript_id)
