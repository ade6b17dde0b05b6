"""Read an ``assemblyai`` connection once into the settings every request of a hook uses.

A connection saved from Airflow's UI form stores an optional field left empty as ``null`` or
``""`` and may store a number as text; environment-variable connections carry real JSON types.
Every spelling reads the same here: empty means "not set", ``"5"`` means 5.

The Host must be a URL with its scheme. Plain ``http://`` is accepted only to a loopback address
(the emulator's ``http://127.0.0.1:PORT``), since the API key travels in every request's header;
elsewhere only with the extra field ``allow_insecure_http`` set, and the hook then logs a warning.
"""

from __future__ import annotations

import ipaddress
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_assemblyai.defaults import DEFAULT_SPEECH_MODELS, RETRY_DEFAULTS
from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError
from airflow_assemblyai.masking import mask_url
from airflow_assemblyai.redaction_settings import CONNECTION_ALLOW_FIELD, parse_names

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
    #: True when the base URL is plain http to a non-loopback host, allowed by ``allow_insecure_http``.
    insecure_http: bool = False
    #: Policy names sent although this release does not know them (extra ``allowed_pii_policies``).
    allowed_pii_policies: tuple[str, ...] = ()

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
            '["universal-3-5-pro", "universal-2"] (see docs/models.md#models).'
        )
    return models


def is_loopback_host(hostname: str) -> bool:
    """Return True for ``localhost`` and loopback addresses (127.0.0.0/8, ``::1``), False otherwise."""
    name = hostname.strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _number(where: str, name: str, value: object) -> float:
    """Return ``value`` as a finite float, or raise naming the field (``where`` says whose it is)."""
    if isinstance(value, bool):
        value = None  # a checkbox is not a number
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AssemblyAIInvalidInputError(
            f"{where} {name!r} must be a number, got {value!r}. Clear it to use the default, "
            "or enter a number."
        ) from None
    if not math.isfinite(number):
        # inf would crash int() or wait forever; nan slips past every range check and waits 0 s.
        raise AssemblyAIInvalidInputError(
            f"{where} {name!r} must be a finite number, got {value!r}. Clear it to use the default "
            f"({RETRY_DEFAULTS[name]:g}), or enter a number."
        )
    return number


def _flag(conn_id: str, name: str, value: object) -> bool:
    """Return an on/off extra field as a bool (true/false, yes/no, 1/0, on/off); unset is False."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise AssemblyAIInvalidInputError(
        f"Connection {conn_id!r}: extra field {name!r} must be true or false, got {value!r}."
    )


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
        where = "The hook's argument" if given is not None else f"Connection {conn_id!r}: extra field"
        retry[name] = default if value is None else _number(where, name, value)
    if retry["max_attempts"] < 1 or retry["retry_wait_initial"] < 0 or retry["retry_wait_max"] < 0:
        raise AssemblyAIInvalidInputError(
            f"Retry settings of connection {conn_id!r} are out of range: max_attempts must be 1 or more "
            "and the waits 0 or more."
        )
    models = extra_value(extra, "speech_models")
    allowed_policies = parse_names(
        extra_value(extra, CONNECTION_ALLOW_FIELD),
        field=f"Connection {conn_id!r}: extra field {CONNECTION_ALLOW_FIELD!r}",
    )
    base_url, insecure_http = _base_url(conn_id, conn, extra)
    return ConnectionSettings(
        base_url=base_url,
        insecure_http=insecure_http,
        api_key=api_key,
        max_attempts=int(retry["max_attempts"]),
        retry_wait_initial=retry["retry_wait_initial"],
        retry_wait_max=retry["retry_wait_max"],
        speech_models=None
        if models is None
        else parse_speech_models(models, field_name=f"Connection {conn_id!r} extra field 'speech_models'"),
        allowed_pii_policies=tuple(allowed_policies),
    )


def _base_url(conn_id: str, conn: Connection, extra: Mapping[str, Any]) -> tuple[str, bool]:
    """Return the base URL and whether it is plain http to a non-loopback host; raise if refused."""
    host = (conn.host or "").strip()
    if not host:
        region = str(extra_value(extra, "region") or "us").strip().lower()
        if region not in REGION_BASE_URLS:
            raise AssemblyAIInvalidInputError(
                f"Connection {conn_id!r}: extra field 'region' must be 'us' or 'eu', got {region!r}."
            )
        return REGION_BASE_URLS[region], False
    base_url = host.rstrip("/")
    # A connection URI splits host and port; join them (also to show a scheme-less value whole).
    if conn.port and _port_of(base_url if "://" in host else f"//{base_url}") is None:
        base_url = f"{base_url}:{conn.port}"
    where = f"Connection {conn_id!r}: Host {mask_url(base_url)!r}"
    if "://" not in host:
        raise AssemblyAIInvalidInputError(f"{where} has no scheme. {_scheme_fix(base_url)}")
    parts = urlsplit(base_url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or _port_of(base_url) == -1:
        raise AssemblyAIInvalidInputError(
            f"{where} is not a valid http(s) URL (scheme, host, port). Write it as "
            "https://api.assemblyai.com (https://api.eu.assemblyai.com in the EU), "
            "or http://127.0.0.1:PORT for a local emulator."
        )
    if parts.scheme.lower() == "https" or is_loopback_host(parts.hostname):
        return base_url, False
    if _flag(conn_id, "allow_insecure_http", extra_value(extra, "allow_insecure_http")):
        return base_url, True
    raise AssemblyAIInvalidInputError(
        f"{where} is plain http to a host that is not loopback, so the API key would cross the network "
        "unencrypted. Use https:// (AssemblyAI: https://api.assemblyai.com); or, only on a network you "
        "trust, set the connection's extra field allow_insecure_http to true (a warning is then logged)."
    )


def _port_of(url: str) -> int | None:
    """Return the URL's port, None when it has none, or -1 when it is not a valid port."""
    try:
        return urlsplit(url).port
    except ValueError:
        return -1


def _scheme_fix(value: str) -> str:
    """Say how to write a scheme-less Host as a URL, spelled out for this host where it can be."""
    try:
        parts = urlsplit(f"//{value}")
        hostname, port = parts.hostname, parts.port
    except ValueError:
        hostname, port = None, None
    if not hostname:
        return "Write it as a URL: https://api.assemblyai.com, or http://127.0.0.1:PORT for a local emulator."
    scheme = "http" if is_loopback_host(hostname) else "https"
    netloc = f"[{hostname}]" if ":" in hostname else hostname
    url = f"{scheme}://{netloc}{f':{port}' if port else ''}"
    return (
        f"Write it as a URL with its scheme: {url} (https for AssemblyAI; http only to a loopback address). "
        f"In a connection URI the scheme follows the type: assemblyai://{scheme}://:API_KEY@{url.split('://')[1]}"
    )
