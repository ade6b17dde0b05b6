"""Moved to :mod:`airflow_assemblyai.archive.s3_errors`; kept for the modules that still import it here."""

# moved to airflow_assemblyai.archive.s3_errors
from __future__ import annotations

from airflow_assemblyai.archive.s3_errors import explain_s3_error, s3_error_code

__all__ = ["explain_s3_error", "s3_error_code"]
