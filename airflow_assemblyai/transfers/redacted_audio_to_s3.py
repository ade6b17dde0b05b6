"""The transfer's former name, kept as a deprecated alias: it writes every store, not only S3."""

from __future__ import annotations

import warnings
from typing import Any

from airflow.exceptions import AirflowProviderDeprecationWarning

from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
    AssemblyAIRedactedAudioToObjectStorageOperator,
)

__all__ = ["AssemblyAIRedactedAudioToS3Operator"]


class AssemblyAIRedactedAudioToS3Operator(AssemblyAIRedactedAudioToObjectStorageOperator):
    """Deprecated: use ``AssemblyAIRedactedAudioToObjectStorageOperator``.

    It lives in :mod:`airflow_assemblyai.transfers.redacted_audio_to_object_storage`, with the same
    parameters, behaviour and return value; constructing this alias warns.
    """

    def __init__(self, **kwargs: Any) -> None:
        warnings.warn(
            "AssemblyAIRedactedAudioToS3Operator is deprecated: import "
            "AssemblyAIRedactedAudioToObjectStorageOperator from "
            "airflow_assemblyai.transfers.redacted_audio_to_object_storage instead (same parameters).",
            AirflowProviderDeprecationWarning,
            stacklevel=2,
        )
        super().__init__(**kwargs)
