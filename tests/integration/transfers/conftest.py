"""Fixtures of the transfer's integration tests (the plugin's emulator and S3 server, fast retries)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_assemblyai.testing.emulator import Emulator
from airflow_assemblyai.testing.loopback import assemblyai_connection_env
from tests.support import FAST_RETRIES, s3_client


@pytest.fixture
def emu(assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """Return the emulator with ``assemblyai_default`` pointing at it (fast retries)."""
    emulator = assemblyai_emulator
    env = assemblyai_connection_env(api_key=emulator.api_key, base_url=emulator.base_url, **FAST_RETRIES)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return emulator


@pytest.fixture
def s3(local_s3_endpoint: str) -> Any:
    """Return a boto3 client of the local S3 server."""
    return s3_client(local_s3_endpoint)
