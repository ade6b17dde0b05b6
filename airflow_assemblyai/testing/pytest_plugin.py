"""Pytest fixtures for testing your own DAGs offline against the loopback AssemblyAI emulator.

Opt in from your ``conftest.py`` (needs ``pip install "airflow-provider-assemblyai[testing]"``)::

    pytest_plugins = ["airflow_assemblyai.testing.pytest_plugin"]

Fixtures (each test gets its own emulator, so no state leaks between tests):

``assemblyai_emulator``
    A running :class:`~airflow_assemblyai.testing.emulator.Emulator` on 127.0.0.1; script faults
    with ``assemblyai_emulator.next_faults`` or seed transcripts with ``add_transcript``.
``assemblyai_base_url``
    Its base URL, ``http://127.0.0.1:PORT``.
``assemblyai_connection``
    Sets ``AIRFLOW_CONN_ASSEMBLYAI_DEFAULT`` to the emulator for the test (with a short retry budget,
    so a failing call fails fast), lifts the shared poller's 5 s floor on poll intervals (so a
    deferred wait at ``poke_interval=0.1`` polls at 0.1 s) and returns the emulator.

Override ``assemblyai_emulator_options`` to change the emulator's API key or processing time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_assemblyai.testing.emulator import Emulator, run_emulator
from airflow_assemblyai.testing.loopback import assemblyai_connection_env

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Retry settings of the ``assemblyai_connection`` fixture: two attempts, a few milliseconds apart.
FAST_RETRIES: dict[str, Any] = {"max_attempts": 2, "retry_wait_initial": 0.01, "retry_wait_max": 0.02}


@pytest.fixture
def assemblyai_emulator_options() -> dict[str, Any]:
    """Return the keyword arguments of :func:`run_emulator` (override this fixture to change them)."""
    return {"api_key": "emulator-test-key", "processing_seconds": 0.3}


@pytest.fixture
def assemblyai_emulator(assemblyai_emulator_options: dict[str, Any]) -> Iterator[Emulator]:
    """Run an AssemblyAI emulator on a free loopback port for one test; yield it."""
    with run_emulator(**assemblyai_emulator_options) as emulator:
        yield emulator


@pytest.fixture
def assemblyai_base_url(assemblyai_emulator: Emulator) -> str:
    """Return the running emulator's base URL."""
    return assemblyai_emulator.base_url


@pytest.fixture
def assemblyai_connection(assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """Point ``assemblyai_default`` at the emulator for one test, poll at any interval; return it."""
    env = assemblyai_connection_env(
        api_key=assemblyai_emulator.api_key, base_url=assemblyai_emulator.base_url, **FAST_RETRIES
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("airflow_assemblyai.triggers.poller.MIN_POLL_INTERVAL", 0.0)
    return assemblyai_emulator
