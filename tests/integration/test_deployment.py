"""A real Airflow deployment runs the deferrable sensor: the triggerer process finishes the wait.

``dag.test()`` runs triggers inline, so it cannot catch a trigger that blocks or deadlocks in a
real triggerer. This test starts ``airflow api-server``, ``scheduler``, ``dag-processor`` and
``triggerer`` (LocalExecutor, SQLite, all on 127.0.0.1), triggers a run through the CLI, watches
the task instance go through ``deferred``, and stops every process it started.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow_processes import Deployment

from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.testing.loopback import assemblyai_connection_env

pytestmark = pytest.mark.deployment

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


def task_state(deployment: Deployment) -> str | None:
    with sqlite3.connect(deployment.home / "airflow.db", timeout=10) as db:
        row = db.execute(
            "SELECT state FROM task_instance WHERE dag_id = ? AND task_id = 'wait'", (DAG_ID,)
        ).fetchone()
    return row[0] if row else None


@pytest.fixture
def deployment(tmp_path: Path, emulator: Emulator) -> Iterator[Deployment]:
    deployment = Deployment(
        tmp_path / "airflow-home",
        dags={"wait_dag.py": textwrap.dedent(DAG_FILE)},
        env=assemblyai_connection_env(api_key=emulator.api_key, base_url=emulator.base_url),
    )
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


def test_deferred_wait_is_finished_by_the_triggerer(deployment: Deployment, emulator: Emulator) -> None:
    # Ready after six 202s: the pre-deferral poke sees one, the triggerer polls through the rest.
    tid = emulator.add_transcript(
        params={"redact_pii": True, "redact_pii_audio": True, "redact_pii_policies": ["person_name"]},
        faults=Faults(render_polls=6),
    )

    deployment.wait_until(deployment.api_ready, 180, "the api-server")

    def dag_parsed() -> bool:
        return DAG_ID in deployment.airflow("dags", "list", "-o", "plain")

    deployment.wait_until(dag_parsed, 180, "the dag-processor to parse the DAG")
    deployment.airflow("dags", "trigger", DAG_ID, "-c", json.dumps({"tid": tid}))

    states: list[str | None] = []

    def finished() -> bool:
        state = task_state(deployment)
        if not states or states[-1] != state:
            states.append(state)
        return state in ("success", "failed", "skipped", "upstream_failed")

    deployment.wait_until(finished, 240, "the sensor to finish")
    assert states[-1] == "success", (states, deployment.log("triggerer")[-3000:])
    assert "deferred" in states, states
    task_logs = "".join(p.read_text(errors="replace") for p in (deployment.home / "logs").rglob("*.log"))
    assert f"Trigger: transcript {tid} still waiting (rendering redacted audio)" in task_logs, task_logs[
        -3000:
    ]
    polls = emulator.count("GET", f"/v2/transcript/{tid}/redacted-audio")
    assert polls == 7  # one poke before deferring, six by the trigger (the last one ready)
