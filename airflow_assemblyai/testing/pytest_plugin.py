"""Pytest fixtures for testing your own DAGs offline: the AssemblyAI emulator, a local S3, Airflow's DB.

Opt in from the ``conftest.py`` at the root of your project, before anything imports Airflow (needs
``pip install "airflow-provider-assemblyai[testing]"``, plus ``[testing-s3]`` for the local S3)::

    pytest_plugins = ["airflow_assemblyai.testing.pytest_plugin"]

Unless ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` is already set, the test session gets its own
``AIRFLOW_HOME`` and SQLite metadata DB in a temporary folder, so no test touches a real deployment.

Fixtures (each test gets its own emulator, so no state leaks between tests):

``assemblyai_offline``
    Everything a whole-DAG test needs: ``connect(assemblyai_conn_id=..., aws_conn_id=...,
    buckets=[...])`` points the connections your DAG uses at the emulator and at a local S3 (a moto
    server, with the buckets created), and ``run_dag(dag, ...)`` runs ``dag.test()`` on an
    initialised metadata DB. See :class:`OfflineServices`.
``assemblyai_emulator``
    A running :class:`~airflow_assemblyai.testing.emulator.Emulator` on 127.0.0.1; script faults
    with ``assemblyai_emulator.next_faults`` or seed transcripts with ``add_transcript``.
``assemblyai_base_url``
    Its base URL, ``http://127.0.0.1:PORT``.
``assemblyai_connection``
    Sets ``AIRFLOW_CONN_ASSEMBLYAI_DEFAULT`` to the emulator for the test (with a short retry budget,
    so a failing call fails fast), lifts the shared poller's 5 s floor on poll intervals (so a
    deferred wait at ``poke_interval=0.1`` polls at 0.1 s) and returns the emulator;
    ``assemblyai_offline.connect`` does the same for any connection id.
``airflow_metadata_db``
    Creates the Airflow metadata DB once per session; returns ``AIRFLOW_HOME``.
``local_s3_endpoint``
    A moto S3 server on 127.0.0.1 for the session; its endpoint URL.

Override ``assemblyai_emulator_options`` to change the emulator's API key or processing time, or
to make it lenient (``strict=False``). By default it refuses what AssemblyAI refuses: unknown request
fields, an ``audio_url`` it cannot download (use ``assemblyai_emulator.sample_audio_url`` for one it
can), and files that are not audio.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any


def _private_airflow_home() -> None:
    """Give this test session its own Airflow home and SQLite DB, unless a DB is configured already.

    Airflow reads its settings once, when it is first imported, so this runs as the plugin loads.
    """
    if os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or "airflow.settings" in sys.modules:
        return
    home = Path(tempfile.mkdtemp(prefix="assemblyai-airflow-home-"))
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


_private_airflow_home()

import pytest  # noqa: E402  (Airflow's settings must be chosen before anything imports it)

from airflow_assemblyai.testing.emulator import Emulator, run_emulator  # noqa: E402
from airflow_assemblyai.testing.loopback import (  # noqa: E402
    MOTO_CREDENTIALS_ENV,
    assemblyai_connection_env,
    aws_connection_env,
    free_port,
    moto_s3_client,
    require_moto_server,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

#: Retry settings of the emulator connections: two attempts, a few milliseconds apart.
FAST_RETRIES: dict[str, Any] = {"max_attempts": 2, "retry_wait_initial": 0.01, "retry_wait_max": 0.02}


@pytest.fixture
def assemblyai_emulator_options() -> dict[str, Any]:
    """Return the keyword arguments of :func:`run_emulator` (override this fixture to change them)."""
    return {"api_key": "emulator-test-key", "processing_seconds": 0.3}


@pytest.fixture
def assemblyai_emulator(assemblyai_emulator_options: dict[str, Any]) -> Iterator[Emulator]:
    """Run an AssemblyAI emulator on a free loopback port for one test; yield it."""
    with run_emulator(**assemblyai_emulator_options) as emulator:
        yield emulator


@pytest.fixture
def assemblyai_base_url(assemblyai_emulator: Emulator) -> str:
    """Return the running emulator's base URL."""
    return assemblyai_emulator.base_url


@pytest.fixture
def assemblyai_connection(assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """Point the ``assemblyai_default`` connection at the emulator for one test; return the emulator."""
    _set_env(monkeypatch, _emulator_connection_env(assemblyai_emulator, "assemblyai_default"))
    _lift_poll_floor(monkeypatch)
    return assemblyai_emulator


@pytest.fixture(scope="session")
def airflow_metadata_db() -> Path:
    """Create (or upgrade) the Airflow metadata DB once per test session; return ``AIRFLOW_HOME``."""
    from airflow.utils.db import initdb

    initdb()
    return Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser()


@pytest.fixture(scope="session")
def local_s3_endpoint() -> Iterator[str]:
    """Run a moto S3 server on 127.0.0.1 (in a thread) for the session; yield its endpoint URL."""
    require_moto_server()
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@dataclass
class OfflineServices:
    """The emulator, a local S3 and Airflow's DB, wired to the connection ids a DAG uses.

    :ivar emulator: the running AssemblyAI emulator (count requests with ``emulator.count``).
    """

    emulator: Emulator
    monkeypatch: pytest.MonkeyPatch
    request: pytest.FixtureRequest
    _s3_endpoint: str | None = field(default=None, repr=False)

    def connect(
        self,
        *,
        assemblyai_conn_id: str = "assemblyai_default",
        aws_conn_id: str | None = None,
        buckets: Iterable[str] = (),
    ) -> OfflineServices:
        """Define the DAG's connections for this test; create ``buckets`` in the local S3.

        :param assemblyai_conn_id: the id your operators pass as ``assemblyai_conn_id``.
        :param aws_conn_id: the id your transfer passes as ``aws_conn_id``; starts the local S3.
        :param buckets: buckets to create in the local S3 (starts it too).
        """
        _set_env(self.monkeypatch, _emulator_connection_env(self.emulator, assemblyai_conn_id))
        _lift_poll_floor(self.monkeypatch)
        buckets = list(buckets)
        if aws_conn_id or buckets:
            endpoint = self.s3_endpoint_url
            _set_env(self.monkeypatch, MOTO_CREDENTIALS_ENV)
            if aws_conn_id:
                _set_env(self.monkeypatch, aws_connection_env(endpoint_url=endpoint, conn_id=aws_conn_id))
            for bucket in buckets:
                self.s3.create_bucket(Bucket=bucket)
        return self

    @property
    def s3_endpoint_url(self) -> str:
        """Return the local S3's endpoint URL, starting it on first use."""
        if self._s3_endpoint is None:
            self._s3_endpoint = str(self.request.getfixturevalue("local_s3_endpoint"))
        return self._s3_endpoint

    @property
    def s3(self) -> Any:
        """Return a boto3 S3 client of the local S3."""
        return moto_s3_client(self.s3_endpoint_url)

    def run_dag(self, dag: Any, **test_kwargs: Any) -> Any:
        """Run ``dag.test(**test_kwargs)`` on the initialised metadata DB; return the DagRun."""
        self.request.getfixturevalue("airflow_metadata_db")
        return run_dag_test(dag, **test_kwargs)


def run_dag_test(dag: Any, **test_kwargs: Any) -> Any:
    """Run ``dag.test(**test_kwargs)`` on an existing metadata DB; return the DagRun.

    The DAG is first written to the DB as the DAG processor would (``dag.test()`` of Airflow 3.3
    runs only DAGs it finds serialized there).
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()  # type: ignore[no-untyped-call]
    bag = DagBag(dag_folder=os.devnull)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    return dag.test(**test_kwargs)


@pytest.fixture
def assemblyai_offline(
    assemblyai_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> OfflineServices:
    """Return the offline services of one test; call ``connect(...)`` with your DAG's connection ids."""
    return OfflineServices(assemblyai_emulator, monkeypatch, request)


def _emulator_connection_env(emulator: Emulator, conn_id: str) -> dict[str, str]:
    return assemblyai_connection_env(
        api_key=emulator.api_key, base_url=emulator.base_url, conn_id=conn_id, **FAST_RETRIES
    )


def _set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def _lift_poll_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the shared poller poll the emulator at any interval (in production it never goes below 5 s)."""
    monkeypatch.setattr("airflow_assemblyai.triggers.poller.MIN_POLL_INTERVAL", 0.0)
