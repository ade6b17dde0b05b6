"""Apache Airflow provider for AssemblyAI's PII-redacted audio."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


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
                "conn-fields": {
                    "max_attempts": {
                        "label": "Max attempts",
                        "description": "Attempts per request on 429, 5xx and timeouts (default 5).",
                        "schema": {"type": ["integer", "null"], "minimum": 1},
                    },
                    "region": {
                        "label": "Region",
                        "description": "us (default) or eu; used only when no Base URL is set.",
                        "schema": {"type": ["string", "null"], "enum": ["us", "eu", None]},
                    },
                },
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
                "python-module": "airflow_assemblyai.transfers.redacted_audio_to_s3",
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
