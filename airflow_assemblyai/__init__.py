"""Apache Airflow provider for AssemblyAI's PII-redacted audio."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def _connection_form_fields() -> dict[str, Any]:
    """Return the extra fields of the AssemblyAI connection form (``conn-fields``).

    Every field may be left empty: the hook reads an empty or ``null`` value as "not set".
    """
    from airflow_assemblyai.defaults import DEFAULT_SPEECH_MODELS, RETRY_DEFAULTS

    def number(label: str, description: str, name: str, kind: str, minimum: float) -> dict[str, Any]:
        default = RETRY_DEFAULTS[name]
        return {
            "label": label,
            "description": description,
            "schema": {
                "type": [kind, "null"],
                "minimum": minimum,
                "default": int(default) if kind == "integer" else default,
            },
        }

    return {
        "region": {
            "label": "Region",
            "description": "us or eu; used only when no Base URL is set.",
            "schema": {"type": ["string", "null"], "enum": ["us", "eu"], "default": "us"},
        },
        "speech_models": {
            "label": "Speech models",
            "description": (
                "Default model chain, in priority order, comma-separated; a task's speech_models wins. "
                f"Empty: {', '.join(DEFAULT_SPEECH_MODELS)}."
            ),
            "schema": {"type": ["string", "null"]},
        },
        "allowed_pii_policies": {
            "label": "Allowed PII policies",
            "description": (
                "PII policy names to send although this provider release does not know them (added by "
                "AssemblyAI since), comma-separated. Empty: only the documented names (docs/models.md)."
            ),
            "schema": {"type": ["string", "null"]},
        },
        "max_attempts": number(
            "Max attempts", "Attempts per request on 408, 429, 5xx, timeouts.", "max_attempts", "integer", 1
        ),
        "retry_wait_initial": number(
            "Retry wait (s)",
            "First backoff in seconds; it doubles each attempt, with jitter.",
            "retry_wait_initial",
            "number",
            0,
        ),
        "retry_wait_max": number(
            "Max retry wait (s)",
            "Longest backoff and longest Retry-After honoured, in seconds.",
            "retry_wait_max",
            "number",
            0,
        ),
        "allow_insecure_http": {
            "label": "Allow plain http",
            "description": (
                "Let an http:// Base URL reach a host that is not loopback: the API key then crosses "
                "the network unencrypted, and a warning is logged. Leave off; use https://."
            ),
            "schema": {"type": ["boolean", "null"], "default": False},
        },
    }


def get_provider_info() -> dict[str, Any]:
    """Return the provider metadata that Airflow's ProvidersManager reads."""
    return {
        "package-name": "airflow-provider-assemblyai",
        "name": "AssemblyAI",
        "description": (
            "Transcribe with PII audio redaction at AssemblyAI and move the redacted audio into S3."
        ),
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "assemblyai",
                "hook-class-name": "airflow_assemblyai.hooks.assemblyai.AssemblyAIHook",
                "hook-name": "AssemblyAI",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login", "extra"],
                    "relabeling": {"password": "API key", "host": "Base URL (optional)"},
                    "placeholders": {"host": "https://api.assemblyai.com"},
                },
                "conn-fields": _connection_form_fields(),
            }
        ],
        "hooks": [
            {"integration-name": "AssemblyAI", "python-modules": ["airflow_assemblyai.hooks.assemblyai"]}
        ],
        "sensors": [
            {
                "integration-name": "AssemblyAI",
                "python-modules": ["airflow_assemblyai.sensors.redacted_audio"],
            }
        ],
        "triggers": [
            {
                "integration-name": "AssemblyAI",
                "python-modules": ["airflow_assemblyai.triggers.redacted_audio"],
            }
        ],
        "operators": [
            {
                "integration-name": "AssemblyAI",
                "python-modules": [
                    "airflow_assemblyai.operators.transcribe",
                    "airflow_assemblyai.operators.delete",
                ],
            }
        ],
        "transfers": [
            {
                "source-integration-name": "AssemblyAI",
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": "airflow_assemblyai.transfers.redacted_audio_to_object_storage",
            }
        ],
        "integrations": [
            {
                "integration-name": "AssemblyAI",
                "external-doc-url": "https://www.assemblyai.com/docs",
                "tags": ["service"],
            }
        ],
    }
