"""AssemblyAI's error texts reach our errors and logs with every URL cut to its origin (one response each)."""

from __future__ import annotations

import json

import httpx
import pytest

from airflow_assemblyai.exceptions import AssemblyAIRequestError, AssemblyAITransientError
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook

SIGNATURE = "c0ffee5ignature0123456789abcdef"
PRESIGNED = f"https://uploads.example.test/calls/jane-doe.wav?X-Amz-Signature={SIGNATURE}&X-Amz-Expires=60"


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> AssemblyAIHook:
    conn = {"conn_type": "assemblyai", "password": "unit-key-0123456789", "extra": {"max_attempts": 1}}
    monkeypatch.setenv("AIRFLOW_CONN_ASSEMBLYAI_DEFAULT", json.dumps(conn))
    return AssemblyAIHook()


def answering(hook: AssemblyAIHook, status: int, body: dict[str, str] | str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    hook.__dict__["_client"] = httpx.Client(
        base_url="https://unit.test", transport=httpx.MockTransport(answer)
    )


@pytest.mark.parametrize(
    "body", [{"error": f"Download error, unable to download {PRESIGNED}"}, f"<p>{PRESIGNED}</p>"]
)
def test_a_400_naming_a_presigned_url_is_masked_in_the_error(hook: AssemblyAIHook, body: object) -> None:
    answering(hook, 400, body)  # type: ignore[arg-type]
    with pytest.raises(AssemblyAIRequestError) as info:
        hook.submit_transcript(PRESIGNED)
    assert "https://uploads.example.test/***" in str(info.value)
    assert SIGNATURE not in str(info.value)
    assert SIGNATURE not in str(info.value.api_error)


def test_a_503_naming_a_presigned_url_is_masked_in_the_transient_error(hook: AssemblyAIHook) -> None:
    answering(hook, 503, {"error": f"Upstream fetch of {PRESIGNED} timed out"})
    with pytest.raises(AssemblyAITransientError) as info:
        hook.get_transcript("t1")
    assert "https://uploads.example.test/***" in str(info.value)
    assert SIGNATURE not in str(info.value)
    assert "GET https://api.assemblyai.com/v2/transcript/t1 did not succeed" in str(info.value)
