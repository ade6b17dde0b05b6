"""A real Airflow deployment runs the deferrable sensor: the triggerer process finishes the wait.

``dag.test()`` runs triggers inline, so it cannot catch a trigger that blocks or deadlocks in a
real triggerer. This test starts ``airflow api-server``, ``scheduler``, ``dag-processor`` and
``triggerer`` (LocalExecutor, SQLite, all on 127.0.0.1), triggers a run through the CLI, watches
the task instance go through ``deferred``, and stops every process it started.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_assemblyai.testing.emulator import Emulator, Faults
from tests.integration.airflow_deployment import Deployment, running

pytestmark = pytest.mark.deployment

DAG_ID = "deployment_redacted_audio_wait"
DAG_FILE = textwrap.dedent(f'''
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
''')


@pytest.fixture
def deployment(tmp_path: Path, emulator: Emulator) -> Iterator[Deployment]:
    conn = {"conn_type": "assemblyai", "password": emulator.api_key, "host": emulator.base_url}
    with running(
        Deployment(tmp_path / "airflow-home", assemblyai_connection=conn, dags={"wait_dag.py": DAG_FILE})
    ) as deployment:
        yield deployment


def test_deferred_wait_is_finished_by_the_triggerer(deployment: Deployment, emulator: Emulator) -> None:
    # Ready after six 202s: the pre-deferral poke sees one, the triggerer polls through the rest.
    tid = emulator.add_transcript(
        params={"redact_pii": True, "redact_pii_audio": True, "redact_pii_policies": ["person_name"]},
        faults=Faults(render_polls=6),
    )

    deployment.wait_for_dag(DAG_ID)
    deployment.airflow("dags", "trigger", DAG_ID, "-c", json.dumps({"tid": tid}))

    states: list[str | None] = []

    def finished() -> bool:
        state = deployment.task_states(DAG_ID).get(("wait", -1))
        if not states or states[-1] != state:
            states.append(state)
        return state in ("success", "failed", "skipped", "upstream_failed")

    deployment.wait_until(finished, 240, "the sensor to finish")
    assert states[-1] == "success", (states, deployment.log("triggerer")[-3000:])
    assert "deferred" in states, states
    task_logs = "".join(p.read_text(errors="replace") for p in (deployment.home / "logs").rglob("*.log"))
    # The triggerer ran the wait and wrote its lines into the task's log.
    assert f"Trigger: waiting for transcript {tid} through the account's shared poller" in task_logs
    assert f"Trigger: transcript {tid} has its redacted audio ready" in task_logs, task_logs[-3000:]
    polls = emulator.count("GET", f"/v2/transcript/{tid}/redacted-audio")
    assert polls == 7  # one poke before deferring, six by the trigger (the last one ready)
