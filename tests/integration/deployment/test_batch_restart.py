"""Restart safety: the triggerer is killed (SIGKILL) mid-batch in a real deployment, then started again.

Eight recordings run through the batch example DAG in api-server + scheduler + dag-processor +
triggerer (LocalExecutor, SQLite, loopback). Their transcripts stay "processing" at the emulator
until every wait is deferred and has been polled by the triggerer; then the triggerer is killed
with all its children, the transcripts finish, and a new triggerer starts. Every wait must resume
and every recording must be archived exactly once: one submission, one object version, no
unfinished multipart upload, one purge.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from airflow_assemblyai.testing.audio import synth_wav
from airflow_assemblyai.testing.emulator import Emulator
from tests.integration.airflow_deployment import Deployment, running
from tests.support import s3_client

pytestmark = pytest.mark.deployment

REPO = Path(__file__).parents[3]
DAG_ID = "example_assemblyai_redacted_audio_batch"
RECORDINGS = 8


def test_every_wait_resumes_after_the_triggerer_is_killed_and_each_recording_is_archived_once(
    tmp_path: Path, assemblyai_emulator: Emulator, local_s3_endpoint: str, s3_bucket: str
) -> None:
    s3 = s3_client(local_s3_endpoint)
    s3.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    source = tmp_path / "calls"
    source.mkdir()
    for n in range(RECORDINGS):
        (source / f"call-{n}.wav").write_bytes(synth_wav(seconds=1.0 + n % 3))
    assemblyai_emulator.processing_seconds = 24 * 3600  # "processing" until the test lets them finish
    aws = {"endpoint_url": local_s3_endpoint, "region_name": "us-east-1"}
    deployment = Deployment(
        tmp_path / "airflow-home",
        assemblyai_connection={
            "conn_type": "assemblyai",
            "password": assemblyai_emulator.api_key,
            "host": assemblyai_emulator.base_url,
        },
        dags_folder=REPO / "dags",
        env={
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {"conn_type": "aws", "login": "testing", "password": "testing", "extra": aws}
            ),
            "ASSEMBLYAI_EXAMPLE_POLL_SECONDS": "1",
            # A dead triggerer's triggers go to a live one once its heartbeat is this old.
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
        },
    )
    deployment.env["AIRFLOW__API__BASE_URL"] = f"http://127.0.0.1:{deployment.api_port}"
    deployment.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"

    with running(deployment):
        deployment.airflow("pools", "set", "assemblyai", "4", "AssemblyAI submissions and transfers")
        deployment.wait_for_dag(DAG_ID)
        conf = {"source": str(source), "bucket": s3_bucket, "key_prefix": "redacted/", "audio_format": "mp3"}
        deployment.airflow("dags", "trigger", DAG_ID, "-c", json.dumps(conf))

        def polls() -> Counter[str]:
            """Count each transcript's reads and redacted-audio asks."""
            return Counter(
                r.transcript_id
                for r in list(assemblyai_emulator.requests)
                if r.method == "GET"
                and r.transcript_id
                and r.path
                in (f"/v2/transcript/{r.transcript_id}", f"/v2/transcript/{r.transcript_id}/redacted-audio")
            )

        def listings() -> int:
            return sum(
                1
                for r in list(assemblyai_emulator.requests)
                if r.method == "GET" and r.path == "/v2/transcript"
            )

        def all_waits_deferred_and_hosted_by_the_triggerer() -> bool:
            waits = [s for (t, _), s in deployment.task_states(DAG_ID).items() if t == "recording.wait"]
            hosted = deployment.query("SELECT count(*) FROM trigger WHERE triggerer_id IS NOT NULL")[0][0]
            return waits.count("deferred") == RECORDINGS and hosted == RECORDINGS

        deployment.wait_until(
            all_waits_deferred_and_hosted_by_the_triggerer, 300, "every wait to be deferred"
        )
        # The triggerer's shared poller is at work: it lists the account's transcripts each cycle.
        listed = listings()
        deployment.wait_until(lambda: listings() >= listed + 2, 120, "the triggerer to poll")

        deployment.kill("triggerer")
        before_restart = polls()
        assemblyai_emulator.processing_seconds = 0  # every transcript is now complete, its audio ready
        deployment.start("triggerer --skip-serve-logs")

        def run_finished() -> bool:
            rows = deployment.query("SELECT state FROM dag_run WHERE dag_id = ?", DAG_ID)
            return bool(rows) and rows[0][0] in ("success", "failed")

        deployment.wait_until(run_finished, 300, "the batch run to finish")
        run_state = deployment.query("SELECT state FROM dag_run WHERE dag_id = ?", DAG_ID)[0][0]
        states = deployment.task_states(DAG_ID)

    assert run_state == "success", (states, deployment.log("triggerer")[-3000:])
    check_logs = "".join(
        path.read_text(errors="replace")
        for path in (deployment.home / "logs").rglob("*.log")
        if "check_pool" in str(path)
    )
    # A worker may not read the metadata database; the API server answered for the pool.
    assert "The pool 'assemblyai' exists (asked the API server (HTTP 200))" in check_logs
    waits = {i: s for (t, i), s in states.items() if t == "recording.wait"}
    assert waits == dict.fromkeys(range(RECORDINGS), "success")
    after_restart = polls() - before_restart
    assert set(after_restart) == set(before_restart)  # each transcript was asked about again
    # Nothing was ready before the kill, so only the new triggerer can have seen each one ready.
    wait_logs = "".join(
        path.read_text(errors="replace")
        for path in (deployment.home / "logs").rglob("*.log")
        if "task_id=recording.wait" in str(path)
    )
    for transcript_id in before_restart:
        assert f"Trigger: transcript {transcript_id} has its redacted audio ready" in wait_logs

    listed = s3.list_object_versions(Bucket=s3_bucket).get("Versions", [])
    # The submission markers beside the archives had their versions too, and are removed once purged.
    versions = [v for v in listed if v["Key"].endswith(".redacted.mp3")]
    assert Counter(v["Key"] for v in versions) == {
        f"redacted/call-{n}.wav.redacted.mp3": 1 for n in range(RECORDINGS)
    }
    # Left in the bucket: each audio, its digest and its redaction evidence; no submission marker.
    remaining = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket).get("Contents", [])}
    audio = {f"redacted/call-{n}.wav.redacted.mp3" for n in range(RECORDINGS)}
    assert remaining == audio | {
        f"{key}{suffix}" for key in audio for suffix in (".digest.json", ".redaction.json")
    }
    assert s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    transcript_ids = {
        s3.head_object(Bucket=s3_bucket, Key=v["Key"])["Metadata"]["assemblyai-transcript-id"]
        for v in versions
    }
    assert transcript_ids == set(before_restart)  # each object holds one of the submitted transcripts
    assert assemblyai_emulator.count("POST", "/v2/transcript") == RECORDINGS  # nothing was submitted twice
    assert assemblyai_emulator.count("POST", "/v2/upload") == RECORDINGS
    deletes = Counter(r.transcript_id for r in assemblyai_emulator.requests if r.method == "DELETE")
    assert deletes == dict.fromkeys(transcript_ids, 1)
    assert all(assemblyai_emulator.deleted(t) for t in transcript_ids)
