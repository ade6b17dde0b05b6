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
from tests.support import REDACT

pytestmark = pytest.mark.deployment

DAG_ID = "deployment_redacted_audio_wait"
DAG_FILE = textwrap.dedent(f'''
import pendulum
from airflow.sdk import DAG, task
from airflow_assemblyai.sensors.redacted_audio import AssemblyAIRedactedAudioSensor

START = pendulum.datetime(2026, 1, 1)
with DAG("{DAG_ID}", schedule=None, start_date=START, params={{"tid": "", "tid2": ""}}):
    wait = AssemblyAIRedactedAudioSensor(
        task_id="wait",
        transcript_id="{{{{ params.tid }}}}",
        deferrable=True,
        poke_interval=1,
        timeout=180,
    )
    AssemblyAIRedactedAudioSensor(
        task_id="wait_without_xcom",
        transcript_id="{{{{ params.tid2 }}}}",
        deferrable=True,
        poke_interval=1,
        timeout=180,
        do_xcom_push=False,
    )

    @task
    def use(value):
        print("downstream got", type(value).__name__, value)
        if not isinstance(value, dict) or value.get("audio_format") != "mp3":
            raise ValueError(f"the wait's XCom is {{value!r}}")

    use(wait.output)
''')


@pytest.fixture
def deployment(tmp_path: Path, assemblyai_emulator: Emulator) -> Iterator[Deployment]:
    conn = {
        "conn_type": "assemblyai",
        "password": assemblyai_emulator.api_key,
        "host": assemblyai_emulator.base_url,
    }
    with running(
        Deployment(tmp_path / "airflow-home", assemblyai_connection=conn, dags={"wait_dag.py": DAG_FILE})
    ) as deployment:
        yield deployment


def test_deferred_wait_is_finished_by_the_triggerer(
    deployment: Deployment, assemblyai_emulator: Emulator
) -> None:
    # Ready after six 202s: the pre-deferral poke sees one, the triggerer polls through the rest.
    tid, tid2 = (
        assemblyai_emulator.add_transcript(params=REDACT, faults=Faults(render_polls=6)) for _ in range(2)
    )

    deployment.wait_for_dag(DAG_ID)
    deployment.airflow("dags", "trigger", DAG_ID, "-c", json.dumps({"tid": tid, "tid2": tid2}))

    states: dict[str, list[str | None]] = {"wait": [], "wait_without_xcom": [], "use": []}

    def finished() -> bool:
        now = deployment.task_states(DAG_ID)
        for task_id, seen in states.items():
            if not seen or seen[-1] != now.get((task_id, -1)):
                seen.append(now.get((task_id, -1)))
        return all(
            seen[-1] in ("success", "failed", "skipped", "upstream_failed") for seen in states.values()
        )

    deployment.wait_until(finished, 240, "the sensors and the task downstream to finish")
    assert [seen[-1] for seen in states.values()] == ["success"] * 3, (
        states,
        deployment.log("triggerer")[-3000:],
    )
    assert "deferred" in states["wait"], states
    assert "deferred" in states["wait_without_xcom"], states
    logs = {task_id: task_log(deployment, task_id) for task_id in states}
    for task_id, transcript_id in (("wait", tid), ("wait_without_xcom", tid2)):
        # The triggerer ran the wait and wrote its lines into the task's log.
        assert (
            f"Trigger: waiting for transcript {transcript_id} through the account's shared poller"
            in logs[task_id]
        )
        assert f"Trigger: transcript {transcript_id} has its redacted audio ready" in logs[task_id], logs[
            task_id
        ]
        polls = assemblyai_emulator.count("GET", f"/v2/transcript/{transcript_id}/redacted-audio")
        assert polls == 7  # one poke before deferring, six by the trigger (the last one ready)
    # With an XCom to hand over, a worker resumes the sensor, and the task downstream reads the dict.
    assert "resumed after the trigger's success event" in logs["wait"]
    assert f"downstream got dict {{'transcript_id': '{tid}', 'audio_format': 'mp3'}}" in logs["use"], logs[
        "use"
    ]
    # Without one, the triggerer ends the task itself: no worker resumes it.
    assert "Trigger: ending the task from the triggerer" in logs["wait_without_xcom"]
    assert "resumed after the trigger" not in logs["wait_without_xcom"]


def task_log(deployment: Deployment, task_id: str) -> str:
    """Return every log line written for ``task_id`` (worker and triggerer)."""
    files = (deployment.home / "logs").rglob(f"task_id={task_id}/*.log")
    return "".join(path.read_text(errors="replace") for path in files)
