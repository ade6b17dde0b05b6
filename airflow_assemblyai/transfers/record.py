"""Moved to :mod:`airflow_assemblyai.archive.record`; kept for the modules that still import it here."""

# moved to airflow_assemblyai.archive.record
from __future__ import annotations

from airflow_assemblyai.archive.record import AUDIO_DIGEST_SUFFIX

__all__ = ["AUDIO_DIGEST_SUFFIX"]
