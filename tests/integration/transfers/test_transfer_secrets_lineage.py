"""Lineage, a real DAG run and cancellation: no URL or key leaks, nothing is left behind."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_assemblyai.exceptions import (
    AssemblyAITransientError,
)
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.testing.pytest_plugin import run_dag_test
from tests.integration.transfers.transfer_support import (
    MiB,
    downloads,
    object_exists,
    record_s3_calls,
    run,
    transfer,
    uploads_left,
)
from tests.support import WAV

# -- lineage ------------------------------------------------------------------------------------------


def test_lineage_names_the_transcript_and_the_object_without_any_url(emu: Emulator, s3_bucket: str) -> None:
    tid = emu.add_transcript(params=WAV)
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")
    run(operator)

    lineage = operator.get_openlineage_facets_on_complete(None)

    [source], [target] = lineage.inputs, lineage.outputs
    assert (source.namespace, source.name) == (emu.base_url, f"v2/transcript/{tid}")
    assert (target.namespace, target.name) == (f"s3://{s3_bucket}", "a.wav")
    signature = downloads(emu)[0].query["Signature"]
    assert signature not in repr(lineage)
    assert "/_files/" not in repr(lineage)


def test_lineage_never_carries_credentials_written_into_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_assemblyai.testing.loopback import assemblyai_connection_env

    env = assemblyai_connection_env(
        api_key="k", base_url="https://proxy-user:proxy-secret@api.example.test:8443", conn_id="aai_creds"
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    operator = transfer(transcript_id="t-1", s3_bucket="b-1", s3_key="a.wav", assemblyai_conn_id="aai_creds")

    [source] = operator.get_openlineage_facets_on_complete(None).inputs

    assert source.namespace == "https://api.example.test:8443"
    assert "proxy-secret" not in repr(source)


# -- in a real DAG run -----------------------------------------------------------------------------------


def test_dag_run_returns_only_the_uri_and_logs_no_secret(
    emu: Emulator,
    s3_bucket: str,
    s3: Any,
    airflow_metadata_db: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.sdk import DAG, AssetAlias
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    tid = emu.add_transcript(params=WAV, faults=Faults(cut_download_after=20_000, expired_urls=1))
    with DAG("redacted_audio_to_s3_secrets", schedule=None) as dag:
        transfer(
            transcript_id=tid,
            s3_bucket=s3_bucket,
            s3_key="calls/{{ dag_run.run_id | replace(':', '_') }}.wav",
            outlets=[AssetAlias("redacted-audio")],
        )

    dag_run = run_dag_test(dag)

    assert dag_run.state == DagRunState.SUCCESS
    key = f"calls/{dag_run.run_id.replace(':', '_')}.wav"
    uri = f"s3://{s3_bucket}/{key}"
    assert dag_run.get_task_instance("copy_redacted_audio").xcom_pull(task_ids="copy_redacted_audio") == uri
    assert s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == emu.redacted_audio(tid)

    logs = caplog.text + "".join(capfd.readouterr())
    assert "Copied" in logs
    assert "resuming at byte" in logs
    signatures = {r.query["Signature"] for r in downloads(emu)}
    assert len(signatures) == 2
    for secret in (emu.api_key, *signatures):
        assert secret not in logs
    assert "/_files/" not in logs

    with create_session() as session:
        asset = session.query(AssetModel).filter(AssetModel.uri == uri).one()
        assert session.query(AssetEvent).filter(AssetEvent.asset_id == asset.id).count() == 1


# -- cancellation is prompt --------------------------------------------------------------------------------


SLOW = {"redacted_size_bytes": 20 * MiB, "slow_body_after": 9 * MiB, "slow_body_delay": 3600.0}


def test_on_kill_during_the_copy_aborts_the_upload_and_stops_the_download(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(**SLOW))
    # A read timeout of an hour: only on_kill can end the stalled read.
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", download_timeout=3600)
    calls = record_s3_calls(operator)
    part_uploaded = threading.Event()
    operator.s3_hook.get_conn().meta.events.register(
        "after-call.s3.UploadPart", lambda **_: part_uploaded.set()
    )

    def kill_once_a_part_is_in() -> None:  # as Airflow's SIGTERM handler does, while execute runs
        if part_uploaded.wait(120):
            operator.on_kill()

    killer = threading.Thread(target=kill_once_a_part_is_in)
    killer.start()
    with pytest.raises(AssemblyAITransientError, match="stopped"):
        run(operator)
    killer.join(10)

    assert "AbortMultipartUpload" in calls
    assert "CompleteMultipartUpload" not in calls
    assert emu.served_bytes(tid) < 20 * MiB
    assert not object_exists(s3, s3_bucket, "a.wav")
    assert uploads_left(s3, s3_bucket) == []


def test_an_execution_timeout_shorter_than_a_slow_download_leaves_nothing_behind(
    emu: Emulator,
    s3_bucket: str,
    s3: Any,
    airflow_metadata_db: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow.sdk import DAG

    tid = emu.add_transcript(params=WAV, faults=Faults(**SLOW))
    with DAG("redacted_audio_to_s3_timeout", schedule=None) as dag:
        transfer(
            transcript_id=tid,
            s3_bucket=s3_bucket,
            s3_key="a.wav",
            download_timeout=3600,
            # Long enough for the first part to be uploaded even on a loaded machine; the body stalls
            # for an hour after 9 MiB, so the timeout always strikes mid-upload.
            execution_timeout=timedelta(seconds=20),
        )

    dag_run = run_dag_test(dag)

    assert dag_run.state == "failed"
    logs = caplog.text + "".join(capfd.readouterr())
    assert "Stopping the transfer: closing the download and aborting the upload." in logs
    # The body stalled after 9 MiB: the first 8 MiB part had been read, so a multipart upload was
    # open when the timeout struck (the abort may be logged by on_kill or done by s3transfer's own
    # clean-up first, whichever thread gets there first); none is left and no object completed.
    assert 9 * MiB <= emu.served_bytes(tid) < 20 * MiB
    assert not object_exists(s3, s3_bucket, "a.wav")
    assert uploads_left(s3, s3_bucket) == []


def test_a_redirect_followed_on_the_download_is_masked_too(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    from tests.integration.hooks.test_url_masking import task_log_line

    tid = emu.add_transcript(params=WAV, faults=Faults(redirect_downloads=1))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    hop, landed = downloads(emu)
    assert (hop.status, landed.status) == (307, 206)
    secret = landed.query["Signature"]  # minted by the redirect: the hook never saw this URL
    assert secret != hop.query["Signature"]
    line = task_log_line(
        f"GET ...&Signature={secret}&x-amz-security-token={landed.query['x-amz-security-token']}"
    )
    assert secret not in line
    assert landed.query["x-amz-security-token"] not in line
