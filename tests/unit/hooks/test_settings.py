"""How a connection becomes a base URL, headers, timeouts and a retry budget (no network)."""

from __future__ import annotations

import json

import httpx
import pytest

from airflow_assemblyai import __version__
from airflow_assemblyai.defaults import DEFAULT_SPEECH_MODELS
from airflow_assemblyai.exceptions import AssemblyAIAuthError, AssemblyAIInvalidInputError
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.hooks.settings import DEFAULT_BASE_URL, EU_BASE_URL
from airflow_assemblyai.http_rules import retry_after_seconds

API_KEY = "unit-secret-key-0123456789"


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str = "assemblyai_default", **fields: object) -> None:
    body = {"conn_type": "assemblyai", "password": API_KEY, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(body))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, DEFAULT_BASE_URL),
        ({"extra": {"region": "us"}}, DEFAULT_BASE_URL),
        ({"extra": {"region": "eu"}}, EU_BASE_URL),
        ({"extra": {"region": "EU"}}, EU_BASE_URL),
        ({"host": "http://127.0.0.1:8765", "extra": {"region": "eu"}}, "http://127.0.0.1:8765"),
        ({"host": "https://api.eu.assemblyai.com/"}, EU_BASE_URL),
        ({"host": "HTTPS://api.eu.assemblyai.com"}, "HTTPS://api.eu.assemblyai.com"),
        ({"host": "http://127.0.0.2:8765"}, "http://127.0.0.2:8765"),
        ({"host": "http://[::1]:8765"}, "http://[::1]:8765"),
        ({"host": "http://LOCALHOST:8765"}, "http://LOCALHOST:8765"),
        ({"host": "http://10.0.0.5:8080", "extra": {"allow_insecure_http": "true"}}, "http://10.0.0.5:8080"),
        ({"host": "http://127.0.0.1", "port": 9000}, "http://127.0.0.1:9000"),
    ],
)
def test_base_url_from_host_else_region(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, object], expected: str
) -> None:
    set_conn(monkeypatch, **fields)
    assert AssemblyAIHook().base_url == expected


def test_headers_carry_the_raw_key_and_a_provider_user_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch)
    client = AssemblyAIHook().get_conn()
    assert client.headers["Authorization"] == API_KEY  # no "Bearer"
    assert f"airflow-provider-assemblyai/{__version__}" in client.headers["User-Agent"]
    assert client.timeout.connect == 10.0
    assert client.timeout.read == 60.0


def test_same_client_is_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch)
    hook = AssemblyAIHook()
    assert hook.get_conn() is hook.get_conn()


async def test_async_client_reads_the_same_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, extra={"region": "eu"})
    hook = AssemblyAIHook()
    client = await hook.aget_conn()
    try:
        assert str(client.base_url).rstrip("/") == EU_BASE_URL
        assert client.headers["Authorization"] == API_KEY
        assert await hook.aget_conn() is client
    finally:
        await hook.aclose()


def test_missing_key_names_the_password_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_ASSEMBLYAI_DEFAULT", json.dumps({"conn_type": "assemblyai"}))
    with pytest.raises(AssemblyAIInvalidInputError, match="set its password"):
        AssemblyAIHook().get_conn()


def test_unknown_region_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, extra={"region": "apac"})
    with pytest.raises(AssemblyAIInvalidInputError, match="'region' must be 'us' or 'eu'"):
        AssemblyAIHook().get_conn()


def test_retry_budget_argument_beats_extra_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, extra={"max_attempts": 2, "retry_wait_max": 3})
    hook = AssemblyAIHook(max_attempts=7)
    assert (hook.max_attempts, hook.retry_wait_max, hook.retry_wait_initial) == (7, 3.0, 1.0)


def test_settings_are_right_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """A caller reading the retry budget first gets the connection's values, not the defaults."""
    set_conn(monkeypatch, extra={"max_attempts": 3, "retry_wait_initial": 0.25})
    hook = AssemblyAIHook()
    assert (hook.retry_wait_initial, hook.max_attempts) == (0.25, 3)
    assert hook.settings is hook.settings  # read once


# What Airflow's UI form stores for optional fields left empty, and numbers typed as text.
FORM_EMPTY = {
    "region": None,
    "speech_models": None,
    "max_attempts": None,
    "retry_wait_initial": None,
    "retry_wait_max": None,
    "allow_insecure_http": None,
}


@pytest.mark.parametrize(
    "extra",
    [
        FORM_EMPTY,
        {name: "" for name in FORM_EMPTY},
        {name: "  " for name in FORM_EMPTY},
        {f"extra__assemblyai__{name}": None for name in FORM_EMPTY},
        {},
    ],
    ids=["null", "empty", "blank", "prefixed-null", "absent"],
)
def test_a_form_saved_with_optional_fields_empty_reads_as_defaults(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, object]
) -> None:
    set_conn(monkeypatch, extra=extra)
    settings = AssemblyAIHook().settings
    assert settings.base_url == DEFAULT_BASE_URL
    assert (settings.max_attempts, settings.retry_wait_initial, settings.retry_wait_max) == (5, 1.0, 60.0)
    assert settings.default_speech_models == DEFAULT_SPEECH_MODELS


def test_numbers_typed_as_text_are_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(
        monkeypatch,
        extra={"max_attempts": "3", "retry_wait_initial": "0.5", "extra__assemblyai__retry_wait_max": " 9 "},
    )
    settings = AssemblyAIHook().settings
    assert (settings.max_attempts, settings.retry_wait_initial, settings.retry_wait_max) == (3, 0.5, 9.0)


@pytest.mark.parametrize(
    "value",
    [
        "universal-2, universal-3-5-pro",
        '["universal-2", "universal-3-5-pro"]',
        ["universal-2", "universal-3-5-pro"],
    ],
)
def test_the_connection_sets_the_default_model_chain(monkeypatch: pytest.MonkeyPatch, value: object) -> None:
    set_conn(monkeypatch, extra={"speech_models": value})
    assert AssemblyAIHook().settings.default_speech_models == ("universal-2", "universal-3-5-pro")


@pytest.mark.parametrize(("value", "match"), [("[oops", "not a JSON list"), (" , ", "is empty"), (7, "list")])
def test_a_bad_model_chain_on_the_connection_names_the_field(
    monkeypatch: pytest.MonkeyPatch, value: object, match: str
) -> None:
    set_conn(monkeypatch, extra={"speech_models": value})
    with pytest.raises(AssemblyAIInvalidInputError, match=rf"'speech_models'.*{match}|{match}"):
        _ = AssemblyAIHook().settings


@pytest.mark.parametrize("extra", [{"max_attempts": 0}, {"retry_wait_max": "soon"}, {"max_attempts": True}])
def test_bad_retry_settings_are_rejected(monkeypatch: pytest.MonkeyPatch, extra: dict[str, object]) -> None:
    set_conn(monkeypatch, extra=extra)
    with pytest.raises(AssemblyAIInvalidInputError, match=r"max_attempts|retry_wait_max"):
        AssemblyAIHook().get_conn()


@pytest.mark.parametrize(
    "extra",
    [
        {"max_attempts": "inf"},
        {"max_attempts": "nan"},
        {"retry_wait_initial": "nan"},
        {"retry_wait_initial": "-inf"},
        {"retry_wait_max": "inf"},
        {"retry_wait_max": "NaN"},
        {"retry_wait_max": float("inf")},  # JSON's Infinity, as an environment connection can carry it
    ],
)
def test_infinite_or_nan_retry_settings_are_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, object]
) -> None:
    set_conn(monkeypatch, extra=extra)
    [name] = extra
    with pytest.raises(AssemblyAIInvalidInputError, match=rf"'{name}' must be a finite number"):
        _ = AssemblyAIHook().settings


def test_an_infinite_retry_argument_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch)
    with pytest.raises(AssemblyAIInvalidInputError, match="'retry_wait_max' must be a finite number"):
        _ = AssemblyAIHook(retry_wait_max=float("nan")).settings


@pytest.mark.parametrize(
    "host",
    [
        "http://api.assemblyai.com",
        "http://10.0.0.5:8080",
        "http://127.0.0.1.example.test",
        "http://127.0.0.1@example.test",
        "http://localhost.example.test",
        "http://[::2]:80",
        "http://0.0.0.0:8080",
    ],
)
def test_plain_http_to_anything_but_loopback_is_refused(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    set_conn(monkeypatch, host=host)
    with pytest.raises(AssemblyAIInvalidInputError, match=r"Host .* allow_insecure_http"):
        _ = AssemblyAIHook().settings


@pytest.mark.parametrize("value", [False, "false", "no", "0", "", None])
def test_allow_insecure_http_off_in_every_spelling(monkeypatch: pytest.MonkeyPatch, value: object) -> None:
    set_conn(monkeypatch, host="http://10.0.0.5", extra={"allow_insecure_http": value})
    with pytest.raises(AssemblyAIInvalidInputError, match="allow_insecure_http"):
        _ = AssemblyAIHook().settings


def test_allow_insecure_http_must_be_a_yes_or_no(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, host="http://10.0.0.5", extra={"allow_insecure_http": "maybe"})
    with pytest.raises(AssemblyAIInvalidInputError, match="'allow_insecure_http' must be true or false"):
        _ = AssemblyAIHook().settings


@pytest.mark.parametrize(
    ("host", "shown", "fix"),
    [
        ("api.eu.assemblyai.com", "'api.eu.assemblyai.com'", "https://api.eu.assemblyai.com"),
        ("127.0.0.1:18701", "'127.0.0.1:18701'", "http://127.0.0.1:18701"),
        ("localhost", "'localhost'", "http://localhost"),
        ("me:pw-secret@api.example.test?t=tok-secret", "'***@api.example.test?***'", "https://"),
        ("ftp://api.example.test", "'ftp://api.example.test'", "https://"),
    ],
)
def test_a_host_without_a_usable_scheme_is_refused_showing_it_masked(
    monkeypatch: pytest.MonkeyPatch, host: str, shown: str, fix: str
) -> None:
    set_conn(monkeypatch, host=host)
    with pytest.raises(AssemblyAIInvalidInputError) as info:
        _ = AssemblyAIHook().settings
    message = str(info.value)
    assert f"Host {shown}" in message
    assert fix in message
    assert "secret" not in message


@pytest.mark.parametrize(
    ("value", "expected"), [("7", 7.0), ("0.5", 0.5), (None, None), ("", None), ("garbage", None)]
)
def test_retry_after_parsing(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value) == expected


def test_retry_after_as_http_date_is_in_the_future() -> None:
    parsed = retry_after_seconds("Wed, 21 Oct 2099 07:28:00 GMT")
    assert parsed is not None
    assert parsed > 0


def test_a_refused_key_never_appears_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """One-response unit case: a 401 that echoes the key must not leak it through our message."""
    set_conn(monkeypatch)
    hook = AssemblyAIHook()

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "Authentication error, API token missing/invalid"})

    hook.get_conn()
    hook.__dict__["_client"] = httpx.Client(
        base_url="http://unit.test", headers={"Authorization": API_KEY}, transport=httpx.MockTransport(refuse)
    )
    with pytest.raises(AssemblyAIAuthError) as info:
        hook.get_transcript("t1")
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(info.value)
    assert "password of connection 'assemblyai_default'" in str(info.value)
