"""The opt-in pytest plugin as a user's test suite meets it (this project opts in from its root conftest)."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest

from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.operators.transcribe import AssemblyAITranscribeOperator
from airflow_assemblyai.testing.emulator import Emulator


def test_transcribe_submits_the_redaction(assemblyai_connection: Emulator) -> None:
    # The README's example, as written there.
    operator = AssemblyAITranscribeOperator(
        task_id="transcribe",
        audio_url="https://example.com/call.wav",
        redact_pii_policies=["person_name"],
    )
    transcript_id = operator.execute(context={})  # type: ignore[arg-type]
    assert assemblyai_connection.count("POST", "/v2/transcript") == 1
    assert transcript_id


def test_the_base_url_is_the_running_emulator(
    assemblyai_emulator: Emulator, assemblyai_base_url: str
) -> None:
    assert assemblyai_base_url == assemblyai_emulator.base_url
    assert assemblyai_base_url.startswith("http://127.0.0.1:")
    answer = httpx.get(
        f"{assemblyai_base_url}/v2/transcript", headers={"Authorization": assemblyai_emulator.api_key}
    )
    assert answer.status_code == 200


def test_the_connection_points_the_default_conn_id_at_the_emulator(assemblyai_connection: Emulator) -> None:
    conn = json.loads(os.environ["AIRFLOW_CONN_ASSEMBLYAI_DEFAULT"])
    assert (conn["host"], conn["password"]) == (assemblyai_connection.base_url, assemblyai_connection.api_key)
    assert AssemblyAIHook().test_connection() == (
        True,
        f"Connected to AssemblyAI at {assemblyai_connection.base_url}.",
    )


def test_without_the_fixture_no_connection_is_set() -> None:
    assert "AIRFLOW_CONN_ASSEMBLYAI_DEFAULT" not in os.environ


class TestOptionsOverride:
    @pytest.fixture
    def assemblyai_emulator_options(self) -> dict[str, Any]:
        return {"api_key": "my-own-key", "processing_seconds": 0}

    def test_an_overridden_option_reaches_the_emulator(self, assemblyai_connection: Emulator) -> None:
        assert assemblyai_connection.api_key == "my-own-key"
        assert AssemblyAIHook().test_connection()[0] is True
