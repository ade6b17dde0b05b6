"""The batch example DAG in a real Airflow run, against the emulator and a moto S3 server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from airflow_assemblyai.testing.audio import synth_wav
from airflow_assemblyai.testing.emulator import Emulator, Faults
from tests.integration.dags import load_dag_module

GROUP_TASKS = ("transcribe", "wait", "archive", "delete")


def load_batch_dag() -> Any:
    return load_dag_module("example_assemblyai_redacted_audio_batch")


@pytest.fixture
def batch_pool(airflow_db: Path) -> Iterator[str]:
    """Create the pool the batch DAG's recording tasks run in; remove it afterwards."""
    from airflow.models.pool import Pool

    name = load_batch_dag().POOL
    Pool.create_or_update_pool(name, slots=4, description="test", include_deferred=False)
    yield name
    Pool.delete_pool(name)


@pytest.fixture
def batch(
    emulator: Emulator, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, Any]:
    """Point the connections at the emulator and moto; return the run conf over a fresh source folder."""
    conn = {"conn_type": "assemblyai", "password": emulator.api_key, "host": emulator.base_url}
    monkeypatch.setenv("AIRFLOW_CONN_ASSEMBLYAI_DEFAULT", json.dumps(conn))
    monkeypatch.setenv("ASSEMBLYAI_EXAMPLE_POLL_SECONDS", "0.2")
    emulator.next_faults = Faults(processing_seconds=0.5, render_polls=1)
    source = tmp_path / "calls"
    source.mkdir()
    return {"source": str(source), "bucket": s3_bucket, "key_prefix": "redacted/", "audio_format": "mp3"}


def add_recordings(source: Path, count: int, start: int = 0) -> list[Path]:
    paths = []
    for n in range(start, start + count):
        path = source / f"call-{n:04d}.wav"
        path.write_bytes(synth_wav(seconds=1.0 + n % 3))
        paths.append(path)
    return paths


def archive_key(path: Path) -> str:
    return f"redacted/{str(path).lstrip('/')}.redacted.mp3"


def objects(moto_server: str, bucket: str) -> dict[str, dict[str, Any]]:
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: s3.head_object(Bucket=bucket, Key=key) for key in keys}


def summary_of(dag_run: Any) -> dict[str, Any]:
    return dag_run.get_task_instance("summarize").xcom_pull(task_ids="summarize", key="summary")


@pytest.mark.usefixtures("batch_pool")
def test_one_bad_recording_fails_alone_the_others_are_archived_and_purged(
    batch: dict[str, Any],
    emulator: Emulator,
    moto_server: str,
    dag_runner: Callable[..., Any],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    paths = add_recordings(Path(batch["source"]), 4)
    # The first API request of the run (one recording's upload) is refused for good.
    emulator.queue_responses([400])

    dag_run = dag_runner(load_batch_dag().dag, run_conf=batch)

    assert dag_run.state == "failed"  # the summary fails the run: one recording did not make it
    states: dict[int, dict[str, str]] = {}
    for ti in dag_run.get_task_instances():
        if ti.task_id.startswith("recording."):
            states.setdefault(ti.map_index, {})[ti.task_id.removeprefix("recording.")] = str(ti.state)
    bad = [i for i, s in states.items() if s["transcribe"] == "failed"]
    assert len(bad) == 1
    assert states.pop(bad[0]) == {
        "transcribe": "failed",
        "wait": "upstream_failed",
        "archive": "upstream_failed",
        "delete": "upstream_failed",
    }
    assert all(s == dict.fromkeys(GROUP_TASKS, "success") for s in states.values())
    assert str(dag_run.get_task_instance("summarize").state) == "failed"

    stored = objects(moto_server, batch["bucket"])
    assert len(stored) == 3
    bad_path = paths[bad[0]]
    assert archive_key(bad_path) not in stored
    for head in stored.values():
        transcript_id = head["Metadata"]["assemblyai-transcript-id"]
        assert head["ContentLength"] == len(emulator.redacted_audio(transcript_id))
        assert emulator.deleted(transcript_id)
    assert {archive_key(p) for p in paths if p != bad_path} == set(stored)

    summary = summary_of(dag_run)
    assert summary["archived"] == 3
    assert summary["skipped"] == 0
    assert summary["failed"] == 1
    assert summary["bytes"] == sum(h["ContentLength"] for h in stored.values())
    assert summary["failed_recordings"] == [
        f"file://{bad_path} (transcribe failed, wait upstream_failed, "
        "archive upstream_failed, delete upstream_failed)"
    ]
    logs = "".join(capfd.readouterr()) + caplog.text
    assert "Batch: 3 archived" in logs
    assert f"Failed: file://{bad_path} (transcribe failed" in logs
    assert emulator.api_key not in logs


@pytest.mark.usefixtures("batch_pool")
def test_a_rerun_submits_nothing_archived_and_purges_a_transcript_left_behind(
    batch: dict[str, Any], emulator: Emulator, moto_server: str, dag_runner: Callable[..., Any]
) -> None:
    source = Path(batch["source"])
    paths = add_recordings(source, 3)
    # An earlier run archived the first recording, but its delete never happened.
    left_behind = emulator.add_transcript(params={"redact_pii": True, "redact_pii_audio": True})
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.put_object(
        Bucket=batch["bucket"],
        Key=archive_key(paths[0]),
        Body=b"earlier archive",
        Metadata={"assemblyai-transcript-id": left_behind},
    )
    dag = load_batch_dag().dag

    first = dag_runner(dag, run_conf=batch)

    assert first.state == "success"
    assert emulator.count("POST", "/v2/transcript") == 2  # the archived recording was not submitted again
    assert emulator.deleted(left_behind)
    assert summary_of(first) | {"failed_recordings": [], "not_purged": []} == {
        "recordings": 3,
        "archived": 2,
        "skipped": 1,
        "failed": 0,
        "bytes": sum(
            h["ContentLength"]
            for k, h in objects(moto_server, batch["bucket"]).items()
            if k != archive_key(paths[0])
        ),
        "purged_skipped": 1,
        "failed_recordings": [],
        "not_purged": [],
    }
    add_recordings(source, 1, start=3)
    before = objects(moto_server, batch["bucket"])
    emulator.requests.clear()

    second = dag_runner(dag, run_conf=batch)

    assert second.state == "success"
    assert emulator.count("POST", "/v2/transcript") == 1  # only the new recording
    assert emulator.count("DELETE") == 1  # its own purge; the skipped ones were purged already
    after = objects(moto_server, batch["bucket"])
    assert set(after) == set(before) | {archive_key(source / "call-0003.wav")}
    for key, head in before.items():
        assert after[key]["ETag"] == head["ETag"]  # nothing archived was written again
    summary = summary_of(second)
    assert (summary["archived"], summary["skipped"], summary["purged_skipped"]) == (1, 3, 0)


def test_a_missing_pool_fails_the_run_at_once_naming_the_fix(
    batch: dict[str, Any],
    emulator: Emulator,
    dag_runner: Callable[..., Any],
    capfd: pytest.CaptureFixture[str],
) -> None:
    add_recordings(Path(batch["source"]), 2)

    dag_run = dag_runner(load_batch_dag().dag, run_conf=batch)

    assert dag_run.state == "failed"
    assert str(dag_run.get_task_instance("check_pool").state) == "failed"
    assert str(dag_run.get_task_instance("plan").state) == "upstream_failed"
    assert emulator.count() == 0  # nothing was sent to AssemblyAI
    logs = "".join(capfd.readouterr())
    assert "The pool 'assemblyai' does not exist" in logs
    assert "airflow pools set assemblyai 8" in logs


@pytest.mark.usefixtures("batch_pool")
def test_more_recordings_than_max_map_length_are_refused_before_anything_is_sent(
    batch: dict[str, Any],
    emulator: Emulator,
    dag_runner: Callable[..., Any],
    capfd: pytest.CaptureFixture[str],
) -> None:
    source = Path(batch["source"])
    for n in range(1025):  # one more than the default [core] max_map_length
        (source / f"call-{n:04d}.wav").write_bytes(b"RIFF")

    dag_run = dag_runner(load_batch_dag().dag, run_conf=batch)

    assert dag_run.state == "failed"
    assert str(dag_run.get_task_instance("plan").state) == "failed"
    assert emulator.count() == 0
    logs = "".join(capfd.readouterr())
    assert "1,025 recordings under " in logs
    assert "more than the 1,024 mapped tasks one run may hold ([core] max_map_length)" in logs


def test_the_demo_runs_the_batch_dag_and_verifies_every_recording() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ASSEMBLYAI"))}
    script = Path(__file__).parents[3] / "scripts" / "demo.py"
    done = subprocess.run(
        [sys.executable, str(script), "--batch", "3"], env=env, capture_output=True, text=True, timeout=280
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "objects:       3 of 3 under s3://redacted-audio/redacted/" in done.stdout
    assert "transcripts:   3 distinct, 3 deleted at the emulator" in done.stdout
