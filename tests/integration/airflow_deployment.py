"""A real Airflow deployment on loopback: api-server, scheduler, dag-processor and triggerer.

LocalExecutor and SQLite, every process in its own process group so it stops with its children.
Shared by the deployment tests, the browser test of the connection form and the batch benchmark.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from airflow_assemblyai.testing.loopback import free_port

__all__ = ["COMPONENTS", "Deployment", "free_port", "running"]

BIN = Path(sys.executable).parent
#: No log servers: they would listen on every interface, and the tests read logs from disk.
COMPONENTS = ("api-server", "scheduler --skip-serve-logs", "dag-processor", "triggerer --skip-serve-logs")


class Deployment:
    """The Airflow processes of one deployment, with their environment and logs."""

    def __init__(
        self,
        home: Path,
        *,
        assemblyai_connection: dict[str, Any] | None = None,
        dags: dict[str, str] | None = None,
        dags_folder: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        home.mkdir(parents=True, exist_ok=True)
        if dags_folder is None:
            dags_folder = home / "dags"
            dags_folder.mkdir()
            for name, text in (dags or {}).items():
                (dags_folder / name).write_text(text)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            **(
                {"AIRFLOW_CONN_ASSEMBLYAI_DEFAULT": json.dumps(assemblyai_connection)}
                if assemblyai_connection
                else {}
            ),
            **(env or {}),
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def airflow(self, *args: str, timeout: float = 240) -> str:
        done = subprocess.run(
            [str(BIN / "airflow"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        return done.stdout

    def start(self, component: str) -> None:
        name = component.split()[0]
        log = (self.home / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [str(BIN / "airflow"), *component.split()],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so its children stop with it
        )

    def kill(self, name: str) -> None:
        """SIGKILL a component and all its children, as a crash or an OOM kill would."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def log(self, component: str) -> str:
        return (self.home / f"{component}.log").read_text(errors="replace")

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"{name} exited early:\n{self.log(name)[-3000:]}"

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        """Read the metadata database (SQLite) directly."""
        with sqlite3.connect(self.home / "airflow.db", timeout=10) as db:
            return db.execute(sql, args).fetchall()

    def task_states(self, dag_id: str, run_id: str | None = None) -> dict[tuple[str, int], str | None]:
        """Return ``{(task_id, map_index): state}`` of a DAG's task instances (of one run, if given)."""
        sql = "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ?"
        args: tuple[object, ...] = (dag_id,)
        if run_id is not None:
            sql, args = sql + " AND run_id = ?", (dag_id, run_id)
        return {(task_id, index): state for task_id, index, state in self.query(sql, *args)}

    def api_ready(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health").is_success
        except httpx.TransportError:
            return False

    def wait_until(self, condition: Callable[[], bool], deadline_s: float, what: str) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            self.check_alive()
            if condition():
                return
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}")

    def wait_for_dag(self, dag_id: str, deadline_s: float = 180) -> None:
        """Wait until the api-server answers and the dag-processor has parsed ``dag_id``."""
        self.wait_until(self.api_ready, deadline_s, "the api-server")
        self.wait_until(
            lambda: dag_id in self.airflow("dags", "list", "-o", "plain"),
            deadline_s,
            f"the dag-processor to parse {dag_id}",
        )


@contextmanager
def running(deployment: Deployment) -> Iterator[Deployment]:
    """Migrate the database, start every component, and stop them all on the way out."""
    deployment.airflow("db", "migrate")
    try:
        for component in COMPONENTS:
            deployment.start(component)
        yield deployment
    finally:
        deployment.stop()
