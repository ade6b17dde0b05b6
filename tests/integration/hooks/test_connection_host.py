"""The connection's Host as the hook reads it: a scheme is required, plain http only to loopback."""

from __future__ import annotations

import json

import pytest

from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError, AssemblyAITransientError
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.testing.emulator import Emulator
from airflow_assemblyai.testing.loopback import assemblyai_connection_env
from tests.integration.hooks.forward_proxy import ForwardProxy
from tests.support import set_env

KEY = "key-that-must-never-travel-in-clear"
REMOTE = "http://assemblyai.example.test"


def use_connection(monkeypatch: pytest.MonkeyPatch, host: str, api_key: str = KEY, **extra: object) -> None:
    env = assemblyai_connection_env(
        api_key=api_key, base_url=host, max_attempts=2, retry_wait_initial=0.01, **extra
    )
    set_env(monkeypatch, env)


def test_plain_http_to_a_remote_host_is_refused_and_the_key_never_leaves(
    proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_connection(monkeypatch, REMOTE)
    ok, message = AssemblyAIHook().test_connection()
    assert not ok, message
    assert "Host" in message
    assert "https://" in message
    assert "allow_insecure_http" in message
    assert KEY not in message
    with pytest.raises(AssemblyAIInvalidInputError, match="allow_insecure_http"):
        AssemblyAIHook().list_transcripts()
    assert proxy.requests == []  # nothing was sent, so the key never crossed the network


def test_allow_insecure_http_sends_with_a_warning(
    proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    use_connection(monkeypatch, REMOTE, allow_insecure_http=True)
    ok, message = AssemblyAIHook().test_connection()
    assert ok, message
    assert [(r.method, r.target.split("?")[0]) for r in proxy.requests] == [
        ("GET", f"{REMOTE}/v2/transcript")
    ]
    logged = "".join(capfd.readouterr())
    assert "unencrypted" in logged
    assert "allow_insecure_http" in logged
    assert KEY not in logged


@pytest.mark.parametrize("loopback", ["127.0.0.1", "localhost"])
def test_plain_http_to_loopback_stays_allowed_without_a_warning(
    assemblyai_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    loopback: str,
) -> None:
    use_connection(
        monkeypatch, assemblyai_emulator.base_url.replace("127.0.0.1", loopback), assemblyai_emulator.api_key
    )
    ok, message = AssemblyAIHook().test_connection()
    assert ok, message
    assert "unencrypted" not in "".join(capfd.readouterr())


@pytest.mark.parametrize("form", ["json-host", "uri"])
def test_a_host_without_a_scheme_is_refused_at_once_showing_what_was_tried(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    port = assemblyai_emulator.base_url.rsplit(":", 1)[1]
    # Both would otherwise be taken as https and retried 5 times against a plain-http server.
    retries = {"max_attempts": 5, "retry_wait_initial": 0.01}
    if form == "uri":
        query = "&".join(f"{name}={value}" for name, value in retries.items())
        conn = f"assemblyai://:{assemblyai_emulator.api_key}@127.0.0.1:{port}?{query}"
    else:
        conn = json.dumps(
            {
                "conn_type": "assemblyai",
                "password": assemblyai_emulator.api_key,
                "host": f"127.0.0.1:{port}",
                "extra": retries,
            }
        )
    monkeypatch.setenv("AIRFLOW_CONN_ASSEMBLYAI_DEFAULT", conn)
    with pytest.raises(AssemblyAIInvalidInputError) as info:
        AssemblyAIHook().list_transcripts()
    message = str(info.value)
    assert f"'127.0.0.1:{port}'" in message  # what was tried
    assert f"http://127.0.0.1:{port}" in message  # the fix, spelled out
    assert "Host" in message
    assert assemblyai_emulator.api_key not in message
    ok, tested = AssemblyAIHook().test_connection()
    assert not ok
    assert "scheme" in tested


def test_a_refused_host_is_shown_without_its_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    use_connection(monkeypatch, "http://user:hunter22@assemblyai.example.test/v2?token=s3cr3t-value")
    with pytest.raises(AssemblyAIInvalidInputError) as info:
        AssemblyAIHook().get_conn()
    message = str(info.value)
    assert "assemblyai.example.test" in message
    assert "hunter22" not in message
    assert "s3cr3t-value" not in message


def test_a_transient_failure_names_the_url_it_tried(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # https to the emulator's plain-http port: every attempt fails the TLS handshake.
    use_connection(
        monkeypatch, assemblyai_emulator.base_url.replace("http://", "https://"), assemblyai_emulator.api_key
    )
    with pytest.raises(AssemblyAITransientError) as info:
        AssemblyAIHook().list_transcripts()
    https_url = assemblyai_emulator.base_url.replace("http://", "https://")
    assert f"GET {https_url}/v2/transcript did not succeed" in str(info.value)
    assert "check the connection's Host" in str(info.value)
