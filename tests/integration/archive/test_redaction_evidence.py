"""The record's redacted spans and the evidence that each is beeped or silenced, on real speech.

Each call is a sentence synthesised by espeak-ng (three voices and speeds), seeded at the emulator,
which beeps (or silences) its PII spans; the transfer archives the record into the local S3 server,
listens to the archived audio and writes the spans and the verdicts into the manifest, or refuses.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from airflow.sdk import Context

from airflow_assemblyai.archive.listening import listen
from airflow_assemblyai.archive.sinks import RANGE_BYTES, RangedReader
from airflow_assemblyai.exceptions import (
    AssemblyAIFinalError,
    AssemblyAIInvalidInputError,
    RedactionNotProvenError,
)
from airflow_assemblyai.operators.delete import AssemblyAIDeleteTranscriptOperator
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.testing.speech import Speech, repeat, synthesize
from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
    AssemblyAIRedactedAudioToObjectStorageOperator,
)

#: Names and phone numbers redacted, tagged by policy in the words.
NAMES_AND_PHONES: dict[str, Any] = {
    "redact_pii": True,
    "redact_pii_audio": True,
    "redact_pii_policies": ["person_name", "phone_number"],
    "redact_pii_sub": "entity_name",
}
WAV_AUDIO = {**NAMES_AND_PHONES, "redact_pii_audio_quality": "wav"}
MP3_AUDIO = {**NAMES_AND_PHONES, "redact_pii_audio_quality": "mp3"}
SILENCED = {**WAV_AUDIO, "redact_pii_audio_options": {"override_audio_redaction_method": "silence"}}
MANIFEST = "calls/a.manifest.json"
AUDIO = "calls/a.wav"


@pytest.fixture(scope="module")
def us_160() -> Speech:
    return synthesize(voice="en-us", speed=160)


@pytest.fixture(scope="module")
def gb_175() -> Speech:
    return synthesize(voice="en-gb", speed=175)


@pytest.fixture(scope="module")
def f3_220() -> Speech:
    return synthesize(voice="en-us+f3", speed=220)


def record_transfer(bucket: str, **kwargs: Any) -> AssemblyAIRedactedAudioToObjectStorageOperator:
    kwargs.setdefault("s3_key", AUDIO)
    return AssemblyAIRedactedAudioToObjectStorageOperator(
        task_id="archive_record", s3_bucket=bucket, archive_record=True, **kwargs
    )


def delete(bucket: str, tid: str, **kwargs: Any) -> AssemblyAIDeleteTranscriptOperator:
    return AssemblyAIDeleteTranscriptOperator(
        task_id="purge", transcript_id=tid, archive_uri=f"s3://{bucket}/{MANIFEST}", **kwargs
    )


def run(operator: Any) -> Any:
    return operator.execute(cast("Context", {}))


def manifest_of(s3_client: Any, bucket: str) -> dict[str, Any]:
    return cast(
        "dict[str, Any]", json.loads(s3_client.get_object(Bucket=bucket, Key=MANIFEST)["Body"].read())
    )


def keys_in(s3_client: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket).get("Contents", []))


def downloads(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests if r.kind == "download")


def assert_proven(manifest: dict[str, Any], *, mode: str = "block") -> None:
    spans, check = manifest["redacted_spans"], manifest["redaction_check"]
    assert [s["policy"] for s in spans] == ["person_name", "phone_number"]
    for span in spans:
        assert span["guarded_start_ms"] == max(0, span["start_ms"] - 150)
        assert span["guarded_end_ms"] == span["end_ms"] + 150
    assert (check["mode"], check["tolerance_ms"], check["guard_ms"], check["ranges"]) == (mode, 300, 150, 2)
    assert check["passed"] is True
    assert [(v["start_ms"], v["end_ms"], v["label"]) for v in check["verdicts"]] == [
        (s["start_ms"], s["end_ms"], s["policy"]) for s in spans
    ]
    assert all(v["verdict"] == "pass" and v["redacted_share"] >= 0.9 for v in check["verdicts"])


def test_the_record_of_a_beeped_wav_call_carries_its_spans_and_a_passing_verdict_for_each(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any, us_160: Speech
) -> None:
    tid = assemblyai_connection.add_transcript(audio=us_160.wav(), params=WAV_AUDIO)

    run(record_transfer(s3_bucket, transcript_id=tid))

    manifest = manifest_of(s3_client, s3_bucket)
    assert_proven(manifest)
    assert all(
        v["dominant_hz"] == pytest.approx(1000, abs=60) for v in manifest["redaction_check"]["verdicts"]
    )
    run(delete(s3_bucket, tid))
    assert assemblyai_connection.deleted(tid)


def test_the_record_of_a_beeped_mp3_call_passes(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any, gb_175: Speech
) -> None:
    tid = assemblyai_connection.add_transcript(audio=gb_175.wav(), params=MP3_AUDIO)

    run(record_transfer(s3_bucket, transcript_id=tid, s3_key="calls/a.mp3"))

    assert_proven(manifest_of(s3_client, s3_bucket))


def test_silence_redaction_passes(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any, f3_220: Speech
) -> None:
    tid = assemblyai_connection.add_transcript(audio=f3_220.wav(), params=SILENCED)

    run(record_transfer(s3_bucket, transcript_id=tid))

    manifest = manifest_of(s3_client, s3_bucket)
    assert_proven(manifest)
    assert all(v["silent_share"] >= 0.9 for v in manifest["redaction_check"]["verdicts"])


@pytest.mark.parametrize("shift_ms", [300, -300])
@pytest.mark.parametrize("params", [WAV_AUDIO, MP3_AUDIO], ids=["wav", "mp3"])
def test_word_timings_off_by_300_ms_still_pass_a_beeped_call(
    assemblyai_connection: Emulator,
    s3_bucket: str,
    s3_client: Any,
    gb_175: Speech,
    shift_ms: int,
    params: dict[str, Any],
) -> None:
    tid = assemblyai_connection.add_transcript(
        audio=gb_175.wav(), params=params, faults=Faults(word_shift_ms=shift_ms)
    )

    run(record_transfer(s3_bucket, transcript_id=tid, s3_key=f"calls/a.{params['redact_pii_audio_quality']}"))

    manifest = manifest_of(s3_client, s3_bucket)
    assert_proven(manifest)
    assert {abs(v["offset_ms"]) for v in manifest["redaction_check"]["verdicts"]} != {0}


def test_a_span_left_as_speech_fails_keeps_its_audio_writes_no_manifest_and_is_not_purged(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any, us_160: Speech
) -> None:
    tid = assemblyai_connection.add_transcript(
        audio=us_160.wav(), params=WAV_AUDIO, faults=Faults(unredacted_spans=(1,))
    )

    with pytest.raises(RedactionNotProvenError) as failed:
        run(record_transfer(s3_bucket, transcript_id=tid))

    message = str(failed.value)
    assert "phone_number" in message
    assert "nothing was purged" in message
    assert "stays where it was written" in message
    assert "re-run" in message
    assert "person_name" not in message  # the beeped span passed: only the failing range is listed
    assert isinstance(failed.value, AssemblyAIFinalError)
    assert MANIFEST not in keys_in(s3_client, s3_bucket)
    assert AUDIO in keys_in(s3_client, s3_bucket)
    stored = s3_client.get_object(Bucket=s3_bucket, Key=AUDIO)["Body"].read()
    assert stored == assemblyai_connection.redacted_audio(tid)

    with pytest.raises(AssemblyAIFinalError, match="not deleted"):
        run(delete(s3_bucket, tid))
    assert not assemblyai_connection.deleted(tid)

    # A re-run checks the stored audio again: no second download, the same refusal, still no manifest.
    before = downloads(assemblyai_connection)
    with pytest.raises(RedactionNotProvenError):
        run(record_transfer(s3_bucket, transcript_id=tid))
    assert downloads(assemblyai_connection) == before
    assert MANIFEST not in keys_in(s3_client, s3_bucket)
    assert AUDIO in keys_in(s3_client, s3_bucket)


def test_warn_mode_writes_the_failing_verdicts_and_the_purge_refuses_unless_told(
    assemblyai_connection: Emulator,
    s3_bucket: str,
    s3_client: Any,
    f3_220: Speech,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tid = assemblyai_connection.add_transcript(
        audio=f3_220.wav(), params=MP3_AUDIO, faults=Faults(unredacted_spans=(0,))
    )

    with caplog.at_level(logging.WARNING):
        run(record_transfer(s3_bucket, transcript_id=tid, s3_key="calls/a.mp3", redaction_check="warn"))

    assert any("person_name" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    check = manifest_of(s3_client, s3_bucket)["redaction_check"]
    assert_warned_then_purged_only_when_allowed(
        check, assemblyai_connection, tid, lambda **kw: delete(s3_bucket, tid, **kw)
    )


def assert_warned_then_purged_only_when_allowed(
    check: dict[str, Any], emulator: Emulator, tid: str, purge: Callable[..., Any]
) -> None:
    """The first span failed in warn mode: the purge refuses, until told allow_unproven_redaction."""
    assert (check["mode"], check["passed"]) == ("warn", False)
    assert [v["verdict"] for v in check["verdicts"]] == ["fail", "pass"]
    with pytest.raises(AssemblyAIFinalError, match="allow_unproven_redaction=True"):
        run(purge())
    assert not emulator.deleted(tid)
    run(purge(allow_unproven_redaction=True))
    assert emulator.deleted(tid)


def test_the_purge_refuses_a_manifest_without_a_passing_check(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    tid = assemblyai_connection.add_transcript(params=WAV_AUDIO)
    run(record_transfer(s3_bucket, transcript_id=tid))
    manifest = manifest_of(s3_client, s3_bucket)
    assert manifest["redaction_check"]["passed"] is True  # the emulator's default tones pass
    head = s3_client.head_object(Bucket=s3_bucket, Key=MANIFEST)
    del manifest["redaction_check"]
    s3_client.put_object(
        Bucket=s3_bucket, Key=MANIFEST, Body=json.dumps(manifest).encode(), Metadata=head["Metadata"]
    )

    with pytest.raises(AssemblyAIFinalError, match="redaction_check"):
        run(delete(s3_bucket, tid))
    assert not assemblyai_connection.deleted(tid)


def test_a_transcript_without_redacted_words_records_no_ranges_and_passes(
    assemblyai_connection: Emulator, s3_bucket: str, s3_client: Any
) -> None:
    params = {**WAV_AUDIO, "redact_pii_policies": ["email_address"]}
    tid = assemblyai_connection.add_transcript(params=params)

    run(record_transfer(s3_bucket, transcript_id=tid))

    manifest = manifest_of(s3_client, s3_bucket)
    assert manifest["redacted_spans"] == []
    check = manifest["redaction_check"]
    assert (check["ranges"], check["passed"], check["verdicts"]) == (0, True, [])


@pytest.mark.parametrize(
    ("argument", "value", "named"),
    [
        ("redaction_check", "maybe", "redaction_check"),
        ("redaction_guard_ms", -1, "redaction_guard_ms"),
        ("redaction_tolerance_ms", "lots", "redaction_tolerance_ms"),
    ],
)
def test_bad_check_arguments_fail_before_any_request(
    assemblyai_connection: Emulator, s3_bucket: str, argument: str, value: Any, named: str
) -> None:
    tid = assemblyai_connection.add_transcript(params=WAV_AUDIO)
    before = len(assemblyai_connection.requests)
    with pytest.raises(AssemblyAIInvalidInputError, match=named):
        run(record_transfer(s3_bucket, transcript_id=tid, **{argument: value}))
    assert len(assemblyai_connection.requests) == before


def test_outside_s3_the_stored_file_is_listened_to_and_a_span_left_as_speech_blocks_the_record(
    assemblyai_connection: Emulator, tmp_path: Path, us_160: Speech
) -> None:
    proven = assemblyai_connection.add_transcript(audio=us_160.wav(), params=WAV_AUDIO)
    run(
        AssemblyAIRedactedAudioToObjectStorageOperator(
            task_id="archive",
            transcript_id=proven,
            destination=f"file://{tmp_path}/ok.wav",
            archive_record=True,
        )
    )
    assert_proven(json.loads((tmp_path / "ok.manifest.json").read_bytes()))

    speaking = assemblyai_connection.add_transcript(
        audio=us_160.wav(), params=WAV_AUDIO, faults=Faults(unredacted_spans=(0,))
    )
    with pytest.raises(RedactionNotProvenError, match="person_name"):
        run(
            AssemblyAIRedactedAudioToObjectStorageOperator(
                task_id="archive",
                transcript_id=speaking,
                destination=f"file://{tmp_path}/bad.wav",
                archive_record=True,
            )
        )
    assert not (tmp_path / "bad.manifest.json").exists()
    assert (tmp_path / "bad.wav").read_bytes() == assemblyai_connection.redacted_audio(speaking)


def test_the_archived_audio_is_read_back_one_range_at_a_time(us_160: Speech) -> None:
    data = repeat(us_160, 120).wav()  # about 5 MiB: several ranges
    fetched: list[int] = []

    def fetch(start: int, end: int) -> bytes:
        fetched.append(end - start)
        return data[start:end]

    with io.BufferedReader(RangedReader(len(data), fetch), buffer_size=RANGE_BYTES) as audio:
        result = listen(audio, [(1000, 1500, "speech")])

    assert result.verdicts[0].verdict == "fail"
    assert len(data) > 4 * RANGE_BYTES
    assert len(fetched) >= 4
    assert max(fetched) <= RANGE_BYTES
