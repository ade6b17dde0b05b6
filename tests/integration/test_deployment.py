"""A real Airflow deployment runs the deferrable sensor: the triggerer process finishes the wait.

``dag.test()`` runs triggers inline, so it cannot catch a trigger that blocks or deadlocks in a
real triggerer. This test starts ``airflow api-server``, ``scheduler``, ``dag-processor`` and
``triggerer`` (LocalExecutor, SQLite, all on 127.0.0.1), triggers a run through the CLI, watches
the task instance go through ``deferred``, and stops every process it started.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from airflow_assemblyai.testing.emulator import Emulator, Faults

pytestmark = pytest.mark.deployment

BIN = Path(sys.executable).parent
DAG_ID = "deployment_redacted_audio_wait"
DAG_FILE = f'''
import pendulum
from airflow.sdk import DAG
from airflow_assemblyai.sensors.redacted_audio import AssemblyAIRedactedAudioSensor

with DAG("{DAG_ID}", schedule=None, start_date=pendulum.datetime(2026, 1, 1), params={{"tid": ""}}):
    AssemblyAIRedactedAudioSensor(
        task_id="wait",
        transcript_id="{{{{ params.tid }}}}",
        deferrable=True,
        poke_interval=1,
        timeout=180,
    )
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Deployment:
    """The Airflow processes of one deployment, with their environment and logs."""

    def __init__(self, home: Path, emulator: Emulator) -> None:
        self.home = home
        self.api_port = free_port()
        (home / "dags").mkdir(parents=True)
        (home / "dags" / "wait_dag.py").write_text(textwrap.dedent(DAG_FILE))
        conn = {"conn_type": "assemblyai", "password": emulator.api_key, "host": emulator.base_url}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
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
            "AIRFLOW_CONN_ASSEMBLYAI_DEFAULT": json.dumps(conn),
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
        assert done.returncode == 0, (
            f"airflow {' '.join(args)}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
        return done.stdout

    def start(self, component: str) -> None:
        log = (self.home / f"{component.split()[0]}.log").open("wb")
        self.processes[component.split()[0]] = subprocess.Popen(
            [str(BIN / "airflow"), *component.split()],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so its children stop with it
        )

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

    def task_state(self) -> str | None:
        with sqlite3.connect(self.home / "airflow.db", timeout=10) as db:
            row = db.execute(
                "SELECT state FROM task_instance WHERE dag_id = ? AND task_id = 'wait'", (DAG_ID,)
            ).fetchone()
        return row[0] if row else None


@pytest.fixture
def deployment(tmp_path: Path, emulator: Emulator) -> Iterator[Deployment]:
    deployment = Deployment(tmp_path / "airflow-home", emulator)
    deployment.airflow("db", "migrate")
    try:
        # No log servers: they would listen on every interface, and this test reads logs from disk.
        for component in (
            "api-server",
            "scheduler --skip-serve-logs",
            "dag-processor",
            "triggerer --skip-serve-logs",
        ):
            deployment.start(component)
        yield deployment
    finally:
        deployment.stop()


def wait_until(condition: object, deadline_s: float, deployment: Deployment, what: str) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        deployment.check_alive()
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_deferred_wait_is_finished_by_the_triggerer(deployment: Deployment, emulator: Emulator) -> None:
    # Ready after six 202s: the pre-deferral poke sees one, the triggerer polls through the rest.
    tid = emulator.add_transcript(
        params={"redact_pii": True, "redact_pii_audio": True, "redact_pii_policies": ["person_name"]},
        faults=Faults(render_polls=6),
    )

    def api_ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{deployment.api_port}/api/v2/monitor/health").is_success
        except httpx.TransportError:
            return False

    wait_until(api_ready, 180, deployment, "the api-server")

    def dag_parsed() -> bool:
        return DAG_ID in deployment.airflow("dags", "list", "-o", "plain")

    wait_until(dag_parsed, 180, deployment, "the dag-processor to parse the DAG")
    deployment.airflow("dags", "trigger", DAG_ID, "-c", json.dumps({"tid": tid}))

    states: list[str | None] = []

    def finished() -> bool:
        state = deployment.task_state()
        if not states or states[-1] != state:
            states.append(state)
        return state in ("success", "failed", "skipped", "upstream_failed")

    wait_until(finished, 240, deployment, "the sensor to finish")
    assert states[-1] == "success", (states, deployment.log("triggerer")[-3000:])
    assert "deferred" in states, states
    task_logs = "".join(p.read_text(errors="replace") for p in (deployment.home / "logs").rglob("*.log"))
    assert f"Trigger: transcript {tid} still waiting (rendering redacted audio)" in task_logs, task_logs[
        -3000:
    ]
    polls = emulator.count("GET", f"/v2/transcript/{tid}/redacted-audio")
    assert polls == 7  # one poke before deferring, six by the trigger (the last one ready)
