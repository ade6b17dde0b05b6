"""Constants and small helpers every test file shares (fixtures live in the provider's pytest plugin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

    from airflow_assemblyai.testing.emulator import Emulator

#: The redaction fields most tests submit: PII redaction with redacted audio, one policy.
REDACT: dict[str, Any] = {
    "redact_pii": True,
    "redact_pii_audio": True,
    "redact_pii_policies": ["person_name"],
}
#: The same, with the redacted audio rendered as WAV.
WAV: dict[str, Any] = {**REDACT, "redact_pii_audio_quality": "wav"}
#: The speech model chain a request must name (the emulator refuses a request without one).
MODELS: dict[str, Any] = {"speech_models": ["universal-3-5-pro", "universal-2"]}
#: A connection retry budget that keeps tests of retries fast.
FAST_RETRIES: dict[str, Any] = {"max_attempts": 3, "retry_wait_initial": 0.01, "retry_wait_max": 0.05}


def s3_client(endpoint_url: str) -> Any:
    """Return a boto3 S3 client of the local S3 server at ``endpoint_url``."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint_url, region_name="us-east-1")


def set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Set these environment variables for one test (a connection's ``AIRFLOW_CONN_*``, say)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def transcript_reads(emulator: Emulator, transcript_id: str) -> int:
    """Count the reads of the transcript itself at the emulator (not of its redacted audio)."""
    return sum(1 for r in emulator.requests if r.path == f"/v2/transcript/{transcript_id}")
