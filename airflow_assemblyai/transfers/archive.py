"""Moved to :mod:`airflow_assemblyai.archive.location`; kept for the modules that still import it here."""

# moved to airflow_assemblyai.archive.location
from __future__ import annotations

from airflow_assemblyai.archive.location import archive_uri, parse_archive_uri

__all__ = ["archive_uri", "parse_archive_uri"]
