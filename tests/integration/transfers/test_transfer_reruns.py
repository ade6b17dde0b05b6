"""Exactly once: a re-run finds its own archive, records its digest, and never overwrites another object."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, cast

import pytest
from airflow.sdk import Context

from airflow_assemblyai.exceptions import (
    AssemblyAIFinalError,
)
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.testing.pytest_plugin import run_dag_test
from tests.integration.transfers.transfer_support import (
    downloads,
    object_exists,
    run,
    transfer,
)
from tests.support import WAV

# -- exactly once ----------------------------------------------------------------------------------


def test_rerun_finds_its_own_object_even_after_the_source_is_gone(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    tid = emu.add_transcript(params=WAV)
    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))
    first = s3.head_object(Bucket=s3_bucket, Key="a.wav")
    emu.expire(tid)
    seen = len(emu.requests)

    assert run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")) == f"s3://{s3_bucket}/a.wav"

    assert len(emu.requests) == seen  # not even an API call
    assert s3.head_object(Bucket=s3_bucket, Key="a.wav")["LastModified"] == first["LastModified"]


def recorded_digest(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    """Return the digest the transfer recorded beside the audio at ``key``."""
    return cast(
        "dict[str, Any]", json.loads(s3.get_object(Bucket=bucket, Key=key + ".digest.json")["Body"].read())
    )


@pytest.mark.parametrize("etag_style", ["md5", "multipart", "none"])
def test_the_sha256_of_the_audio_is_recorded_beside_it_whatever_the_source_etag(
    emu: Emulator, s3_bucket: str, s3: Any, etag_style: str
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(etag_style=etag_style))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    audio = emu.redacted_audio(tid)
    recorded = recorded_digest(s3, s3_bucket, "a.wav")
    assert recorded["transcript_id"] == tid
    assert recorded["size"] == len(audio)
    assert recorded["sha256"] == hashlib.sha256(audio).hexdigest()
    assert recorded.get("source_md5") == (hashlib.md5(audio).hexdigest() if etag_style == "md5" else None)
    head = s3.head_object(Bucket=s3_bucket, Key="a.wav.digest.json")
    assert head["Metadata"]["assemblyai-transcript-id"] == tid
    assert head["Metadata"]["assemblyai-record-role"] == "digest"  # never taken for the audio


def test_a_rerun_records_the_digest_an_attempt_killed_after_the_audio_landed_did_not(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(etag_style="multipart"))
    killed = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")

    def die(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key", "").endswith(".digest.json"):
            raise KeyboardInterrupt  # the worker stops between the two writes

    killed.s3_hook.get_conn().meta.events.register("before-parameter-build.s3.PutObject", die)
    with pytest.raises(KeyboardInterrupt):
        run(killed)
    assert object_exists(s3, s3_bucket, "a.wav")
    assert not object_exists(s3, s3_bucket, "a.wav.digest.json")
    fetched = len(downloads(emu))

    assert run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")) == f"s3://{s3_bucket}/a.wav"

    assert len(downloads(emu)) == fetched  # read back from S3, not downloaded again
    recorded = recorded_digest(s3, s3_bucket, "a.wav")
    assert recorded["sha256"] == hashlib.sha256(emu.redacted_audio(tid)).hexdigest()
    assert (recorded["transcript_id"], recorded["size"]) == (tid, len(emu.redacted_audio(tid)))


def test_a_digest_file_that_records_other_bytes_fails_and_stays_untouched(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(etag_style="multipart"))
    foreign = b'{"schema": "airflow-assemblyai/audio-digest/1", "sha256": "' + b"0" * 64 + b'"}'
    s3.put_object(Bucket=s3_bucket, Key="a.wav.digest.json", Body=foreign)

    with pytest.raises(AssemblyAIFinalError, match="replace=True") as caught:
        run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert "a.wav.digest.json" in str(caught.value)
    assert s3.get_object(Bucket=s3_bucket, Key="a.wav.digest.json")["Body"].read() == foreign
    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", replace=True))
    assert (
        recorded_digest(s3, s3_bucket, "a.wav")["sha256"]
        == hashlib.sha256(emu.redacted_audio(tid)).hexdigest()
    )


@pytest.mark.parametrize(
    ("metadata", "named"),
    [
        ({}, "an object this provider did not write"),
        ({"assemblyai-transcript-id": "another"}, "transcript another"),
    ],
)
def test_another_object_at_the_key_fails_and_stays_untouched(
    emu: Emulator, s3_bucket: str, s3: Any, metadata: dict[str, str], named: str
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="a.wav", Body=b"someone else's", Metadata=metadata)
    tid = emu.add_transcript(params=WAV)

    with pytest.raises(AssemblyAIFinalError, match="replace=True") as caught:
        run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert named in str(caught.value)
    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == b"someone else's"
    assert downloads(emu) == []


def test_replace_true_overwrites(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    s3.put_object(Bucket=s3_bucket, Key="a.wav", Body=b"old")
    tid = emu.add_transcript(params=WAV)

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", replace=True))

    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)


# -- metadata in any case, keys taken literally ----------------------------------------------------------


def test_metadata_answered_in_another_case_is_still_recognised(emu: Emulator, s3_bucket: str) -> None:
    tid = emu.add_transcript(params=WAV)
    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))
    rerun = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")
    answer_metadata_in_title_case(rerun.s3_hook.get_conn())
    seen = len(emu.requests)

    run(rerun)

    assert len(emu.requests) == seen


def test_the_purge_recognises_the_archive_whatever_the_case_of_its_metadata(
    emu: Emulator, s3_bucket: str
) -> None:
    from airflow_assemblyai.operators.delete import AssemblyAIDeleteTranscriptOperator

    tid = emu.add_transcript(params=WAV)
    uri = run(transfer(transcript_id=tid, s3_key=f"s3://{s3_bucket}/calls/{tid}#1.wav"))
    purge = AssemblyAIDeleteTranscriptOperator(task_id="purge", transcript_id=tid, archive_uri=uri)
    answer_metadata_in_title_case(purge.s3_hook.get_conn())

    purge.execute(cast("Context", {}))

    assert emu.deleted(tid)


def answer_metadata_in_title_case(client: Any) -> None:
    """Make ``HeadObject`` metadata keys arrive as ``Assemblyai-Transcript-Id``, as MinIO answers them."""

    def title_case(parsed: dict[str, Any], **_: Any) -> None:
        if "Metadata" in parsed:
            parsed["Metadata"] = {k.title(): v for k, v in parsed["Metadata"].items()}

    client.meta.events.register("after-call.s3.HeadObject", title_case)


@pytest.mark.parametrize(
    ("s3_key", "key", "uri"),
    [
        ("calls/a#1.wav", "calls/a#1.wav", "calls/a%231.wav"),
        ("calls/a?v=2.wav", "calls/a?v=2.wav", "calls/a%3Fv=2.wav"),
        ("calls//a.wav", "calls//a.wav", "calls//a.wav"),
        ("/calls/a.wav", "/calls/a.wav", "/calls/a.wav"),
    ],
)
@pytest.mark.parametrize("spelling", ["s3-url", "bucket-and-key"])
def test_the_object_lands_at_exactly_the_key_given(
    emu: Emulator, s3_bucket: str, s3: Any, s3_key: str, key: str, uri: str, spelling: str
) -> None:
    tid = emu.add_transcript(params=WAV)
    where = (
        {"s3_key": f"s3://{s3_bucket}/{s3_key}"}
        if spelling == "s3-url"
        else {"s3_bucket": s3_bucket, "s3_key": s3_key}
    )

    returned = run(transfer(transcript_id=tid, **where))

    assert returned == f"s3://{s3_bucket}/{uri}"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]] == [
        key,
        f"{key}.digest.json",
        f"{key}.redaction.json",
    ]


def test_the_asset_event_carries_the_encoded_uri(
    emu: Emulator, s3_bucket: str, s3: Any, airflow_metadata_db: Path
) -> None:
    from airflow.models.asset import AssetModel
    from airflow.sdk import DAG, AssetAlias
    from airflow.utils.session import create_session

    tid = emu.add_transcript(params=WAV)
    with DAG("redacted_audio_to_s3_odd_key", schedule=None) as dag:
        transfer(
            transcript_id=tid,
            s3_key=f"s3://{s3_bucket}/calls/a#1?v=2.wav",
            outlets=[AssetAlias("redacted-audio-odd-keys")],
        )

    dag_run = run_dag_test(dag)

    assert dag_run.state == "success"
    assert s3.head_object(Bucket=s3_bucket, Key="calls/a#1?v=2.wav")
    with create_session() as session:
        uris = {asset.uri for asset in session.query(AssetModel).filter(AssetModel.uri.contains(s3_bucket))}
    assert uris == {f"s3://{s3_bucket}/calls/a%231%3Fv=2.wav"}
