"""The batch example DAG in a real Airflow run, against the emulator and a moto S3 server."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_assemblyai.testing.audio import synth_wav
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.testing.pytest_plugin import run_dag_test
from tests.integration.dags import load_dag_module
from tests.support import s3_client

pytestmark = pytest.mark.usefixtures("airflow_metadata_db")

GROUP_TASKS = ("transcribe", "wait", "archive", "delete")
#: The digest the transfer records beside each archived audio (``x.mp3.digest.json``).
DIGEST_SUFFIX = ".digest.json"
#: The redaction evidence it records beside each (``x.mp3.redaction.json``), what the purge asks for.
EVIDENCE_SUFFIX = ".redaction.json"


def load_batch_dag() -> Any:
    return load_dag_module("example_assemblyai_redacted_audio_batch")


@pytest.fixture
def batch_pool(airflow_metadata_db: Path) -> Iterator[str]:
    """Create the pool the batch DAG's recording tasks run in; remove it afterwards."""
    from airflow.models.pool import Pool

    name = load_batch_dag().POOL
    Pool.create_or_update_pool(name, slots=4, description="test", include_deferred=False)
    yield name
    Pool.delete_pool(name)


@pytest.fixture
def batch(
    assemblyai_emulator: Emulator, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, Any]:
    """Point the connections at the emulator and moto; return the run conf over a fresh source folder."""
    conn = {
        "conn_type": "assemblyai",
        "password": assemblyai_emulator.api_key,
        "host": assemblyai_emulator.base_url,
    }
    monkeypatch.setenv("AIRFLOW_CONN_ASSEMBLYAI_DEFAULT", json.dumps(conn))
    monkeypatch.setenv("ASSEMBLYAI_EXAMPLE_POLL_SECONDS", "0.2")
    assemblyai_emulator.next_faults = Faults(processing_seconds=0.5, render_polls=1)
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


def archive_key(path: Path, source: Path | None = None) -> str:
    """Return the archive key of a recording: the key prefix and its path relative to the source."""
    return f"redacted/{path.relative_to(source or path.parent).as_posix()}.redacted.mp3"


def audio_objects(stored: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Return the archived audio among the stored objects (submission markers left aside)."""
    return {k: v for k, v in stored.items() if k.endswith(".redacted.mp3")}


def all_keys(local_s3_endpoint: str, bucket: str) -> set[str]:
    s3 = s3_client(local_s3_endpoint)
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def objects(local_s3_endpoint: str, bucket: str) -> dict[str, dict[str, Any]]:
    """Return the stored objects, the digest and the evidence recorded beside each archived audio
    left aside (:func:`digest_files` lists them)."""
    s3 = s3_client(local_s3_endpoint)
    sidecars = (DIGEST_SUFFIX, EVIDENCE_SUFFIX)
    keys = sorted(k for k in all_keys(local_s3_endpoint, bucket) if not k.endswith(sidecars))
    return {key: s3.head_object(Bucket=bucket, Key=key) for key in keys}


def digest_files(local_s3_endpoint: str, bucket: str, suffix: str = DIGEST_SUFFIX) -> set[str]:
    """Return the keys of the digests (or, given its suffix, the evidence) recorded beside the audio."""
    return {k for k in all_keys(local_s3_endpoint, bucket) if k.endswith(suffix)}


def summary_of(dag_run: Any) -> dict[str, Any]:
    return dag_run.get_task_instance("summarize").xcom_pull(task_ids="summarize", key="summary")


@pytest.mark.usefixtures("batch_pool")
def test_one_bad_recording_fails_alone_the_others_are_archived_and_purged(
    batch: dict[str, Any],
    assemblyai_emulator: Emulator,
    local_s3_endpoint: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    paths = add_recordings(Path(batch["source"]), 4)
    # The first API request of the run (one recording's upload) is refused for good.
    assemblyai_emulator.queue_responses([400])

    dag_run = run_dag_test(load_batch_dag().dag, run_conf=batch)

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

    stored = objects(local_s3_endpoint, batch["bucket"])
    assert len(stored) == 3
    bad_path = paths[bad[0]]
    assert archive_key(bad_path) not in stored
    for head in stored.values():
        transcript_id = head["Metadata"]["assemblyai-transcript-id"]
        assert head["ContentLength"] == len(assemblyai_emulator.redacted_audio(transcript_id))
        assert assemblyai_emulator.deleted(transcript_id)
    assert {archive_key(p) for p in paths if p != bad_path} == set(stored)
    assert digest_files(local_s3_endpoint, batch["bucket"]) == {k + DIGEST_SUFFIX for k in stored}
    evidence = digest_files(local_s3_endpoint, batch["bucket"], EVIDENCE_SUFFIX)
    assert evidence == {k + EVIDENCE_SUFFIX for k in stored}  # each purge was shown the beeps

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
    assert assemblyai_emulator.api_key not in logs


def marker_key(path: Path, source: Path | None = None) -> str:
    """Return the key of the submission marker the batch DAG keeps beside a recording's archive key."""
    return archive_key(path, source) + ".submission.json"


def put_marker(local_s3_endpoint: str, bucket: str, key: str, transcript_id: str | None) -> None:
    """Write a submission marker as the transcribe task does (without an id: the POST's answer was lost)."""
    body = {"source": "an earlier run", "started_at": "2026-12-01T00:00:00+00:00"}
    if transcript_id:
        body |= {"transcript_id": transcript_id, "submitted_at": "2026-12-01T00:00:01+00:00"}
    s3 = s3_client(local_s3_endpoint)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode())


def archive_by_hand(batch: dict[str, Any], assemblyai_emulator: Emulator, path: Path) -> str:
    """Archive a completed transcript of ``path`` at its key, as a run whose delete failed left it."""
    from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
        AssemblyAIRedactedAudioToObjectStorageOperator,
    )

    # A multipart ETag: no MD5 of the source, so the purge compares the SHA-256 recorded beside it.
    transcript_id = assemblyai_emulator.add_transcript(
        params={"redact_pii": True, "redact_pii_audio": True}, faults=Faults(etag_style="multipart")
    )
    key = archive_key(path, Path(batch["source"]))
    AssemblyAIRedactedAudioToObjectStorageOperator(
        task_id="archive", transcript_id=transcript_id, s3_bucket=batch["bucket"], s3_key=key
    ).execute({})  # type: ignore[arg-type]
    return transcript_id


@pytest.mark.usefixtures("batch_pool")
def test_a_rerun_submits_nothing_archived_and_purges_a_transcript_left_behind(
    batch: dict[str, Any], assemblyai_emulator: Emulator, local_s3_endpoint: str
) -> None:
    source = Path(batch["source"])
    paths = add_recordings(source, 3)
    # An earlier run archived the first recording, but its delete never happened: its marker stays.
    left_behind = archive_by_hand(batch, assemblyai_emulator, paths[0])
    put_marker(local_s3_endpoint, batch["bucket"], marker_key(paths[0]), left_behind)
    assemblyai_emulator.requests.clear()
    dag = load_batch_dag().dag

    first = run_dag_test(dag, run_conf=batch)

    assert first.state == "success"
    assert (
        assemblyai_emulator.count("POST", "/v2/transcript") == 2
    )  # the archived recording was not submitted again
    assert assemblyai_emulator.deleted(left_behind)
    stored = objects(local_s3_endpoint, batch["bucket"])
    assert set(stored) == {archive_key(p) for p in paths}  # every marker is gone once purged
    # The digests beside the archives are neither recordings to archive nor markers to purge.
    assert digest_files(local_s3_endpoint, batch["bucket"]) == {archive_key(p) + DIGEST_SUFFIX for p in paths}
    assert summary_of(first) | {"failed_recordings": [], "not_purged": []} == {
        "recordings": 3,
        "archived": 2,
        "skipped": 1,
        "failed": 0,
        "bytes": sum(h["ContentLength"] for k, h in stored.items() if k != archive_key(paths[0])),
        "purged_skipped": 1,
        "failed_recordings": [],
        "not_purged": [],
    }
    add_recordings(source, 1, start=3)
    before = objects(local_s3_endpoint, batch["bucket"])
    assemblyai_emulator.requests.clear()

    second = run_dag_test(dag, run_conf=batch)

    assert second.state == "success"
    assert assemblyai_emulator.count("POST", "/v2/transcript") == 1  # only the new recording
    assert assemblyai_emulator.count("DELETE") == 1  # its own purge; the skipped ones were purged already
    after = objects(local_s3_endpoint, batch["bucket"])
    assert set(after) == set(before) | {archive_key(source / "call-0003.wav")}
    for key, head in before.items():
        assert after[key]["ETag"] == head["ETag"]  # nothing archived was written again
    summary = summary_of(second)
    assert (summary["archived"], summary["skipped"], summary["purged_skipped"]) == (1, 3, 0)


@pytest.mark.usefixtures("batch_pool")
def test_the_batch_purge_checks_the_archive_and_never_purges_on_a_transcript_id_alone(
    batch: dict[str, Any],
    assemblyai_emulator: Emulator,
    local_s3_endpoint: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    (path,) = add_recordings(Path(batch["source"]), 1)
    transcript_id = assemblyai_emulator.add_transcript(params={"redact_pii": True, "redact_pii_audio": True})
    # 13 bytes at the archive key carry the id, and a recorded length they do not have.
    s3 = s3_client(local_s3_endpoint)
    s3.put_object(
        Bucket=batch["bucket"],
        Key=archive_key(path),
        Body=b"earlier bytes",
        Metadata={"assemblyai-transcript-id": transcript_id, "assemblyai-source-length": "48044"},
    )
    put_marker(local_s3_endpoint, batch["bucket"], marker_key(path), transcript_id)

    dag_run = run_dag_test(load_batch_dag().dag, run_conf=batch)

    assert not assemblyai_emulator.deleted(transcript_id)  # the only redacted audio stays at AssemblyAI
    assert assemblyai_emulator.count("DELETE") == 0
    assert dag_run.state == "failed"
    assert marker_key(path) in objects(local_s3_endpoint, batch["bucket"])  # the next run tries again
    logs = "".join(capfd.readouterr())
    assert f"Transcript {transcript_id} was not deleted" in logs


@pytest.mark.usefixtures("batch_pool")
@pytest.mark.parametrize("failing", ["wait", "archive"])
def test_a_rerun_after_a_failed_wait_or_archive_resumes_the_transcript_and_bills_nothing_twice(
    batch: dict[str, Any],
    assemblyai_emulator: Emulator,
    local_s3_endpoint: str,
    failing: str,
) -> None:
    source = Path(batch["source"])
    paths = add_recordings(source, 2)
    if failing == "wait":  # each transcript's first request by id is refused for good
        assemblyai_emulator.next_faults = Faults(processing_seconds=0.5, render_polls=1, api_errors=[400])
    else:  # the file host serves an error page instead of the audio, on every attempt
        assemblyai_emulator.next_faults = Faults(
            processing_seconds=0.5, render_polls=1, substitute_body="html"
        )
    dag = load_batch_dag().dag

    first = run_dag_test(dag, run_conf=batch)

    assert first.state == "failed"
    assert assemblyai_emulator.count("POST", "/v2/transcript") == 2
    submitted = {r.transcript_id for r in assemblyai_emulator.requests if r.transcript_id}
    assert len(submitted) == 2
    assert audio_objects(objects(local_s3_endpoint, batch["bucket"])) == {}
    states = {ti.task_id: str(ti.state) for ti in first.get_task_instances()}
    assert states[f"recording.{failing}"] == "failed"
    assemblyai_emulator.next_faults = Faults(processing_seconds=0.5, render_polls=1)
    for transcript_id in submitted:
        assemblyai_emulator.set_faults(transcript_id, Faults())
    assemblyai_emulator.requests.clear()

    second = run_dag_test(dag, run_conf=batch)

    assert second.state == "success"
    assert assemblyai_emulator.count("POST", "/v2/upload") == 0  # nothing uploaded again
    assert assemblyai_emulator.count("POST", "/v2/transcript") == 0  # nothing submitted again: no second bill
    stored = objects(local_s3_endpoint, batch["bucket"])
    assert set(stored) == {archive_key(p) for p in paths}  # archived; the markers are gone
    assert {h["Metadata"]["assemblyai-transcript-id"] for h in stored.values()} == submitted
    assert all(assemblyai_emulator.deleted(t) for t in submitted)  # the first run's transcripts are purged


@pytest.mark.usefixtures("batch_pool")
def test_a_submission_whose_answer_was_lost_is_never_sent_again(
    batch: dict[str, Any],
    assemblyai_emulator: Emulator,
    local_s3_endpoint: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    source = Path(batch["source"])
    lost, fresh = add_recordings(source, 2)
    # An earlier run marked the submission, then died before AssemblyAI's answer was recorded.
    put_marker(local_s3_endpoint, batch["bucket"], marker_key(lost), None)

    dag_run = run_dag_test(load_batch_dag().dag, run_conf=batch)

    assert dag_run.state == "failed"
    assert assemblyai_emulator.count("POST", "/v2/upload") == 1
    assert assemblyai_emulator.count("POST", "/v2/transcript") == 1  # only the fresh recording
    assert set(audio_objects(objects(local_s3_endpoint, batch["bucket"]))) == {archive_key(fresh)}
    logs = "".join(capfd.readouterr())
    assert "may have reached AssemblyAI" in logs
    assert f"s3://{batch['bucket']}/{marker_key(lost)}" in logs


@pytest.mark.usefixtures("batch_pool")
def test_a_source_folder_moved_is_recognised_and_nothing_is_submitted_again(
    batch: dict[str, Any], assemblyai_emulator: Emulator, local_s3_endpoint: str
) -> None:
    source = Path(batch["source"])
    (source / "team-a").mkdir()
    paths = [*add_recordings(source, 1), *add_recordings(source / "team-a", 1, start=1)]
    dag = load_batch_dag().dag

    first = run_dag_test(dag, run_conf=batch)

    assert first.state == "success"
    assert (
        set(objects(local_s3_endpoint, batch["bucket"]))
        == {
            "redacted/call-0000.wav.redacted.mp3",
            "redacted/team-a/call-0001.wav.redacted.mp3",
        }
        == {archive_key(p, source) for p in paths}
    )
    moved = source.rename(source.parent / "moved-calls")
    assemblyai_emulator.requests.clear()

    second = run_dag_test(dag, run_conf=batch | {"source": str(moved)})

    assert second.state == "success"
    assert assemblyai_emulator.count("POST") == 0  # nothing uploaded, nothing submitted: no second bill
    summary = summary_of(second)
    assert (summary["recordings"], summary["skipped"], summary["archived"]) == (2, 2, 0)


@pytest.mark.usefixtures("batch_pool")
def test_the_source_listing_never_follows_a_symbolic_link(
    batch: dict[str, Any],
    assemblyai_emulator: Emulator,
    local_s3_endpoint: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = Path(batch["source"])
    (real,) = add_recordings(source, 1)
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.wav"
    secret.write_bytes(synth_wav(seconds=2.0))
    (source / "leak.wav").symlink_to(secret)
    (source / "linked").symlink_to(outside, target_is_directory=True)

    dag_run = run_dag_test(load_batch_dag().dag, run_conf=batch)

    assert dag_run.state == "success"
    assert assemblyai_emulator.count("POST", "/v2/upload") == 1  # only the real recording left the worker
    assert set(objects(local_s3_endpoint, batch["bucket"])) == {archive_key(real)}
    logs = "".join(capfd.readouterr()) + caplog.text
    assert f"Skipped {source / 'leak.wav'}: a symbolic link" in logs
    assert f"Skipped {source / 'linked'}: a symbolic link" in logs


def test_a_missing_pool_fails_the_run_at_once_naming_the_fix(
    batch: dict[str, Any],
    assemblyai_emulator: Emulator,
    capfd: pytest.CaptureFixture[str],
) -> None:
    add_recordings(Path(batch["source"]), 2)

    dag_run = run_dag_test(load_batch_dag().dag, run_conf=batch)

    assert dag_run.state == "failed"
    assert str(dag_run.get_task_instance("check_pool").state) == "failed"
    assert str(dag_run.get_task_instance("plan").state) == "upstream_failed"
    assert assemblyai_emulator.count() == 0  # nothing was sent to AssemblyAI
    logs = "".join(capfd.readouterr())
    assert "The pool 'assemblyai' does not exist" in logs
    assert "airflow pools set assemblyai 8" in logs


@pytest.fixture
def refusing_api_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a loopback API server that answers 401 to everything, as one with real auth answers a worker.

    The metadata database is closed to the task, as the Task SDK closes it on a worker, so the pool
    check has to ask this server.
    """
    from airflow.models.pool import Pool

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"detail": "Not authenticated"}')

        def log_message(self, *args: Any) -> None:
            pass

    def no_database(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Direct database access via the ORM is not allowed in Airflow 3.0")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    monkeypatch.setattr(Pool, "get_pool", no_database)
    try:
        yield base_url
    finally:
        server.shutdown()
        thread.join()


def test_a_pool_check_the_api_server_refuses_fails_the_run_naming_the_fix(
    batch: dict[str, Any],
    assemblyai_emulator: Emulator,
    refusing_api_server: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    add_recordings(Path(batch["source"]), 1)

    dag_run = run_dag_test(load_batch_dag().dag, run_conf=batch)

    assert dag_run.state == "failed"
    assert str(dag_run.get_task_instance("check_pool").state) == "failed"
    assert assemblyai_emulator.count() == 0  # nothing was sent to AssemblyAI
    logs = "".join(capfd.readouterr())
    assert f"{refusing_api_server}/api/v2/pools/assemblyai answered HTTP 401" in logs
    assert "check_pool=false" in logs


@pytest.mark.usefixtures("batch_pool")
def test_more_recordings_than_max_map_length_are_refused_before_anything_is_sent(
    batch: dict[str, Any],
    assemblyai_emulator: Emulator,
    capfd: pytest.CaptureFixture[str],
) -> None:
    source = Path(batch["source"])
    for n in range(1025):  # one more than the default [core] max_map_length
        (source / f"call-{n:04d}.wav").write_bytes(b"RIFF")

    dag_run = run_dag_test(load_batch_dag().dag, run_conf=batch)

    assert dag_run.state == "failed"
    assert str(dag_run.get_task_instance("plan").state) == "failed"
    assert assemblyai_emulator.count() == 0
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
    assert "listened to:   3 of 3, every redacted range beeped" in done.stdout


@pytest.mark.usefixtures("batch_pool")
def test_a_missing_archive_bucket_fails_the_run_before_anything_is_uploaded_or_submitted(
    batch: dict[str, Any], assemblyai_emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    add_recordings(Path(batch["source"]), 2)

    dag_run = run_dag_test(load_batch_dag().dag, run_conf={**batch, "bucket": "no-such-archive-bucket"})

    assert dag_run.state == "failed"
    assert str(dag_run.get_task_instance("check_archive_destination").state) == "failed"
    assert str(dag_run.get_task_instance("plan").state) == "upstream_failed"
    assert assemblyai_emulator.count() == 0  # no upload, no submission: nothing paid for
    assert "S3 bucket 'no-such-archive-bucket' does not exist" in "".join(capfd.readouterr())
