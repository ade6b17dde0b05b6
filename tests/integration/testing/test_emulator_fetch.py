"""Which ``audio_url`` the emulator fetches: loopback hosts only, judged on the parsed URL."""

from __future__ import annotations

import httpx
import pytest

from airflow_assemblyai.testing.emulator import Emulator
from tests.integration.hooks.forward_proxy import ForwardProxy
from tests.support import MODELS


def submit(emulator: Emulator, audio_url: str) -> None:
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": emulator.api_key}) as client:
        answer = client.post("/v2/transcript", json={"audio_url": audio_url, **MODELS})
    assert answer.status_code == 200, answer.text


def test_a_loopback_audio_url_is_fetched(assemblyai_emulator: Emulator, proxy: ForwardProxy) -> None:
    submit(assemblyai_emulator, f"{proxy.url}/a.wav")
    assert [(r.method, r.target) for r in proxy.requests] == [("GET", "/a.wav")]  # direct, not proxied


@pytest.mark.parametrize(
    "audio_url",
    [
        "http://127.0.0.1@elsewhere.test/a.wav",  # userinfo "127.0.0.1", host elsewhere.test
        "http://127.0.0.1.elsewhere.test/a.wav",
        "http://localhost.elsewhere.test/a.wav",
        "http://localhost:80@elsewhere.test/a.wav",
    ],
)
def test_a_url_that_only_starts_like_loopback_is_never_fetched(
    assemblyai_emulator: Emulator, proxy: ForwardProxy, audio_url: str
) -> None:
    submit(assemblyai_emulator, audio_url)
    assert proxy.requests == []
