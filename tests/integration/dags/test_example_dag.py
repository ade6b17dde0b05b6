"""The example DAG end to end: a real Airflow run against the emulator and a moto S3 server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from airflow_assemblyai.testing.audio import synth_wav
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.testing.pytest_plugin import run_dag_test
from tests.integration.dags import load_dag_module
from tests.support import s3_client


def load_example_dag() -> Any:
    return load_dag_module("example_assemblyai_redacted_audio").dag


def test_example_dag_archives_the_redacted_audio_and_purges_the_transcript(
    assemblyai_connection: Emulator,
    s3_bucket: str,
    local_s3_endpoint: str,
    airflow_metadata_db: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    emulator = assemblyai_connection
    monkeypatch.setenv("ASSEMBLYAI_EXAMPLE_POLL_SECONDS", "0.2")
    emulator.next_faults = Faults(processing_seconds=1.0, render_polls=1)
    sample = tmp_path / "call.wav"
    sample.write_bytes(synth_wav(seconds=5.0))

    dag_run = run_dag_test(
        load_example_dag(),
        run_conf={"audio_path": str(sample), "bucket": s3_bucket, "key_prefix": "calls/"},
    )
    assert dag_run.state == "success"

    s3 = s3_client(local_s3_endpoint)
    stored_keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"])
    keys = [k for k in stored_keys if k.endswith(".wav")]
    assert len(keys) == 1
    transcript_id = keys[0].removeprefix("calls/").removesuffix(".wav")
    assert keys[0] == f"calls/{transcript_id}.wav"
    record = [
        f"calls/{transcript_id}{suffix}" for suffix in (".manifest.json", ".srt", ".transcript.json", ".vtt")
    ]
    assert stored_keys == sorted([keys[0], *record])
    stored = s3.get_object(Bucket=s3_bucket, Key=keys[0])
    assert stored["Body"].read() == emulator.redacted_audio(transcript_id)
    assert stored["ContentType"] == "audio/wav"
    assert emulator.deleted(transcript_id)
    assert not emulator.violations

    archive = dag_run.get_task_instance("archive_to_s3")
    manifest_uri = f"s3://{s3_bucket}/calls/{transcript_id}.manifest.json"
    assert archive.xcom_pull(task_ids="archive_to_s3") == manifest_uri

    logs = "".join(capfd.readouterr())
    assert "archive_to_s3" in logs  # the task logs were captured
    assert f"is the complete record of transcript {transcript_id}" in logs  # the purge checked the record
    assert emulator.api_key not in logs
    downloads = [r for r in emulator.requests if r.kind == "download"]
    assert downloads
    for request in downloads:
        assert request.query["Signature"] not in logs

    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        uris = {event.asset.uri for event in session.scalars(select(AssetEvent))}
    assert {f"s3://{s3_bucket}/{keys[0]}", manifest_uri} <= uris  # announced through the AssetAlias

    from tests.integration.api_rules import REQUEST_PATHS, SUBMISSION, check

    # What the example DAG sent holds to AssemblyAI's documented request shapes.
    assert len(emulator.submissions) == 1
    assert check(emulator.submissions[0], SUBMISSION) == []
    for request in (r for r in emulator.requests if r.kind == "api"):
        assert any(re.fullmatch(p, request.path) for p in REQUEST_PATHS[request.method]), request.path


@pytest.mark.usefixtures("s3_bucket")  # points aws_default at the local S3, where this bucket does not exist
def test_a_missing_archive_bucket_fails_the_example_dag_before_anything_is_uploaded_or_submitted(
    assemblyai_connection: Emulator,
    airflow_metadata_db: Path,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    sample = tmp_path / "call.wav"
    sample.write_bytes(synth_wav(seconds=2.0))

    dag_run = run_dag_test(
        load_example_dag(),
        run_conf={"audio_path": str(sample), "bucket": "no-such-archive-bucket", "key_prefix": "calls/"},
    )

    assert dag_run.state == "failed"
    assert str(dag_run.get_task_instance("check_archive_destination").state) == "failed"
    assert str(dag_run.get_task_instance("transcribe").state) == "upstream_failed"
    assert assemblyai_connection.count() == 0  # no upload, no submission: nothing paid for
    assert "S3 bucket 'no-such-archive-bucket' does not exist" in "".join(capfd.readouterr())
