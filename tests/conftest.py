"""Shared fixtures beside the provider's pytest plugin: a fresh S3 bucket, an S3 client, a network proxy.

The emulator, the Airflow DB and the moto S3 server come from the provider's own pytest plugin
(opted into by the root ``conftest.py``); tests use its names: ``assemblyai_emulator``,
``assemblyai_connection``, ``airflow_metadata_db``, ``local_s3_endpoint``, and ``run_dag_test``
imported from :mod:`airflow_assemblyai.testing.pytest_plugin`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_assemblyai.testing.loopback import aws_connection_env
from tests import support
from tests.integration.hooks.forward_proxy import ForwardProxy, forward_proxy

# -- Fixtures of this repository's tests.


@pytest.fixture
def s3_bucket(local_s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Create a fresh bucket on the moto server and point ``aws_default`` at it; yield its name."""
    support.set_env(monkeypatch, aws_connection_env(endpoint_url=local_s3_endpoint))
    bucket = f"bucket-{uuid.uuid4().hex[:12]}"
    support.s3_client(local_s3_endpoint).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def s3_client(local_s3_endpoint: str) -> Any:
    """Return a boto3 S3 client of the moto server."""
    return support.s3_client(local_s3_endpoint)


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ForwardProxy]:
    """Stand in for the network: plain-http requests to any non-loopback host reach this recording proxy."""
    with forward_proxy(monkeypatch) as running:
        yield running
