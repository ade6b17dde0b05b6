from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from airflow_assemblyai.testing.emulator import Emulator, run_emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with run_emulator(api_key="test-key", processing_seconds=0.3) as emu:
        yield emu


@pytest.fixture
def emulator_connection(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """Point ``assemblyai_default`` at the emulator, with a short retry budget; return the emulator."""
    conn = {
        "conn_type": "assemblyai",
        "password": emulator.api_key,
        "host": emulator.base_url,
        "extra": {"max_attempts": 2, "retry_wait_initial": 0.01, "retry_wait_max": 0.02},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ASSEMBLYAI_DEFAULT", json.dumps(conn))
    return emulator
