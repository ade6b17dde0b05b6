from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_assemblyai.testing.emulator import Emulator, run_emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with run_emulator(api_key="test-key", processing_seconds=0.3) as emu:
        yield emu
