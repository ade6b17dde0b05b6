"""Shared fixtures: the Airflow DB, a moto S3 server, a fresh bucket, a DAG runner, the emulator.

The emulator fixtures come from the provider's own pytest plugin (opted into by the root
``conftest.py``); ``emulator`` and ``emulator_connection`` are the short names the tests use.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_assemblyai.testing.emulator import Emulator
from airflow_assemblyai.testing.loopback import aws_connection_env, free_port


@pytest.fixture
def emulator(assemblyai_emulator: Emulator) -> Emulator:
    """Return the plugin's running emulator (``assemblyai_emulator``)."""
    return assemblyai_emulator


@pytest.fixture
def emulator_connection(assemblyai_connection: Emulator) -> Emulator:
    """Point ``assemblyai_default`` at the emulator with a short retry budget; return the emulator."""
    return assemblyai_connection


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Create the Airflow metadata DB (SQLite) once per test session; return AIRFLOW_HOME."""
    from airflow.utils.db import initdb

    initdb()
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Run moto in server mode on 127.0.0.1 (in a thread); yield its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Create a fresh bucket on the moto server and point ``aws_default`` at it; yield its name."""
    import boto3

    for name, value in aws_connection_env(endpoint_url=moto_server).items():
        monkeypatch.setenv(name, value)
    bucket = f"bucket-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def s3_client(moto_server: str) -> Any:
    """Return a boto3 S3 client of the moto server."""
    import boto3

    return boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")


@pytest.fixture
def dag_runner(airflow_db: Path) -> Callable[..., Any]:
    """Return a function that runs a DAG built in a test as ``dag.test()`` would, and returns its DagRun.

    ``dag.test()`` on Airflow 3.3 only runs DAGs it finds serialized, so the DAG is first written to
    the metadata DB as the DAG processor would.
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    def run_dag(dag: Any, **test_kwargs: Any) -> Any:
        DagBundlesManager().sync_bundles_to_db()
        bag = DagBag(dag_folder=os.devnull)
        bag.bag_dag(dag)
        sync_bag_to_db(bag, "dags-folder", None)
        return dag.test(**test_kwargs)

    return run_dag
