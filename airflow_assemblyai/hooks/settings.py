"""Read an ``assemblyai`` connection once into the settings every request of a hook uses.

A connection saved from Airflow's UI form stores an optional field left empty as ``null`` or
``""`` and may store a number as text; environment-variable connections carry real JSON types.
Every spelling reads the same here: empty means "not set", ``"5"`` means 5.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_assemblyai.defaults import DEFAULT_SPEECH_MODELS, RETRY_DEFAULTS
from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Connection

DEFAULT_BASE_URL = "https://api.assemblyai.com"
EU_BASE_URL = "https://api.eu.assemblyai.com"
REGION_BASE_URLS = {"us": DEFAULT_BASE_URL, "eu": EU_BASE_URL}


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything a hook needs from its connection, read once and checked."""

    base_url: str
    api_key: str = field(repr=False)
    max_attempts: int = int(RETRY_DEFAULTS["max_attempts"])
    retry_wait_initial: float = RETRY_DEFAULTS["retry_wait_initial"]
    retry_wait_max: float = RETRY_DEFAULTS["retry_wait_max"]
    #: The connection's default model chain, or None to use :data:`DEFAULT_SPEECH_MODELS`.
    speech_models: tuple[str, ...] | None = None

    @property
    def default_speech_models(self) -> tuple[str, ...]:
        """Return the chain a request without its own ``speech_models`` uses."""
        return self.speech_models or DEFAULT_SPEECH_MODELS


def is_unset(value: object) -> bool:
    """Return True for what a form stores for a field left empty (None, "", blanks)."""
    return value is None or (isinstance(value, str) and not value.strip())


def extra_value(extra: Mapping[str, Any], name: str) -> Any:
    """Return an extra field by its name, or by the ``extra__assemblyai__`` form prefix; None if unset."""
    for key in (name, f"extra__assemblyai__{name}"):
        value = extra.get(key)
        if not is_unset(value):
            return value
    return None


def parse_speech_models(value: object, *, field_name: str = "speech_models") -> tuple[str, ...]:
    """Return a model chain from a list, a JSON list text or a comma-separated text; raise if empty."""
    items: Sequence[object]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                loaded = json.loads(text)
            except ValueError:
                loaded = None
            if not isinstance(loaded, list):
                raise AssemblyAIInvalidInputError(
                    f"{field_name} {value!r} is not a JSON list: write it as "
                    '["universal-3-5-pro", "universal-2"] or as universal-3-5-pro, universal-2.'
                )
            items = loaded
        else:
            items = text.split(",")
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise AssemblyAIInvalidInputError(
            f"{field_name} must be a list of model names in priority order, e.g. "
            f'["universal-3-5-pro", "universal-2"]; got {type(value).__name__}.'
        )
    models = tuple(str(item).strip() for item in items if isinstance(item, str) and item.strip())
    if len(models) != len(items) and not isinstance(value, str):
        raise AssemblyAIInvalidInputError(
            f"{field_name} must hold only model names (strings), got {value!r}."
        )
    if not models:
        raise AssemblyAIInvalidInputError(
            f"{field_name} is empty: name at least one speech model, e.g. "
            '["universal-3-5-pro", "universal-2"] (see the README section "Models").'
        )
    return models


def _number(conn_id: str, name: str, value: object) -> float:
    if isinstance(value, bool):
        value = None  # a checkbox is not a number
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AssemblyAIInvalidInputError(
            f"Connection {conn_id!r}: extra field {name!r} must be a number, got {value!r}. "
            "Clear it to use the default, or enter a number."
        ) from None


def read_settings(
    conn_id: str,
    conn: Connection,
    extra: Mapping[str, Any],
    overrides: Mapping[str, float | None],
) -> ConnectionSettings:
    """Build :class:`ConnectionSettings` from a connection; raise naming the field to fix.

    :param overrides: retry settings given to the hook itself; they win over the connection.
    """
    api_key = (conn.password or "").strip()
    if not api_key:
        raise AssemblyAIInvalidInputError(
            f"Connection {conn_id!r} has no API key: set its password to your AssemblyAI API key."
        )
    retry: dict[str, float] = {}
    for name, default in RETRY_DEFAULTS.items():
        given = overrides.get(name)
        value = given if given is not None else extra_value(extra, name)
        retry[name] = default if value is None else _number(conn_id, name, value)
    if retry["max_attempts"] < 1 or retry["retry_wait_initial"] < 0 or retry["retry_wait_max"] < 0:
        raise AssemblyAIInvalidInputError(
            f"Retry settings of connection {conn_id!r} are out of range: max_attempts must be 1 or more "
            "and the waits 0 or more."
        )
    models = extra_value(extra, "speech_models")
    return ConnectionSettings(
        base_url=_base_url(conn_id, conn, extra),
        api_key=api_key,
        max_attempts=int(retry["max_attempts"]),
        retry_wait_initial=retry["retry_wait_initial"],
        retry_wait_max=retry["retry_wait_max"],
        speech_models=None
        if models is None
        else parse_speech_models(models, field_name=f"Connection {conn_id!r} extra field 'speech_models'"),
    )


def _base_url(conn_id: str, conn: Connection, extra: Mapping[str, Any]) -> str:
    host = (conn.host or "").strip()
    if host:
        base_url = host if "://" in host else f"https://{host}"
        if conn.port and urlsplit(base_url).port is None:
            base_url = f"{base_url.rstrip('/')}:{conn.port}"
        return base_url.rstrip("/")
    region = str(extra_value(extra, "region") or "us").strip().lower()
    if region not in REGION_BASE_URLS:
        raise AssemblyAIInvalidInputError(
            f"Connection {conn_id!r}: extra field 'region' must be 'us' or 'eu', got {region!r}."
        )
    return REGION_BASE_URLS[region]
