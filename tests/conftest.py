"""Shared fixtures beside the provider's pytest plugin: a fresh S3 bucket, an S3 client, a network proxy.

The emulator, the Airflow DB and the moto S3 server come from the provider's own pytest plugin
(opted into by the root ``conftest.py``); tests use its names: ``assemblyai_emulator``,
``assemblyai_connection``, ``airflow_metadata_db``, ``local_s3_endpoint``, and ``run_dag_test``
imported from :mod:`airflow_assemblyai.testing.pytest_plugin`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_assemblyai.testing.emulator import Emulator
from airflow_assemblyai.testing.loopback import aws_connection_env
from airflow_assemblyai.testing.pytest_plugin import run_dag_test
from tests import support
from tests.integration.hooks.forward_proxy import ForwardProxy, forward_proxy

# -- Short aliases of the plugin's fixtures, kept only for test files that still use them; new and
# moved tests use the plugin's names. Remove them once no test requests them.


@pytest.fixture
def emulator(assemblyai_emulator: Emulator) -> Emulator:
    """Return the plugin's running emulator (``assemblyai_emulator``)."""
    return assemblyai_emulator


@pytest.fixture
def emulator_connection(assemblyai_connection: Emulator) -> Emulator:
    """Point ``assemblyai_default`` at the emulator with a short retry budget; return the emulator."""
    return assemblyai_connection


@pytest.fixture(scope="session")
def airflow_db(airflow_metadata_db: Path) -> Path:
    """Return AIRFLOW_HOME once the plugin created the metadata DB (``airflow_metadata_db``)."""
    return airflow_metadata_db


@pytest.fixture(scope="session")
def moto_server(local_s3_endpoint: str) -> str:
    """Return the endpoint of the plugin's moto S3 server (``local_s3_endpoint``)."""
    return local_s3_endpoint


@pytest.fixture
def dag_runner(airflow_db: Path) -> Callable[..., Any]:
    """Return the plugin's ``run_dag_test``: ``dag.test()`` of a DAG built in a test, on the metadata DB."""
    return run_dag_test


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
