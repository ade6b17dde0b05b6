"""Process-wide test setup: a private Airflow home and SQLite DB, and a moto S3 server on loopback.

This file sits at the repository root so that it runs before anything imports Airflow.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="aai-airflow-home-"))
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).parent / "dags"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # Never reach a real AWS account from a test.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)
os.environ.pop("ASSEMBLYAI_API_KEY", None)


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Create the Airflow metadata DB (SQLite) once per test session; return AIRFLOW_HOME."""
    from airflow.utils.db import initdb

    initdb()
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Run moto in server mode on 127.0.0.1; yield its endpoint URL."""
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
    import json
    import uuid

    import boto3

    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": moto_server, "region_name": "us-east-1"},
            }
        ),
    )
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    return name


def run_dag(dag: object, **test_kwargs: object) -> object:
    """Register ``dag`` in the metadata DB as the DAG processor would, then run ``dag.test()``.

    ``dag.test()`` on Airflow 3.3 only runs DAGs it finds serialized, so a DAG built inside a
    test is written to the DB first. Returns the finished DagRun.
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=os.devnull)
    bag.bag_dag(dag)  # type: ignore[arg-type]
    sync_bag_to_db(bag, "dags-folder", None)
    return dag.test(**test_kwargs)  # type: ignore[attr-defined]


@pytest.fixture
def dag_runner(airflow_db: Path) -> Callable[..., Any]:
    """Return :func:`run_dag` (as a fixture, since ``tests/conftest.py`` shadows this module's name)."""
    return run_dag
