"""The transfer's copy into S3: byte-identical, labelled by its bytes, riding out faults, failing fast."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_assemblyai.exceptions import (
    AssemblyAIError,
    AssemblyAITransientError,
    RedactedAudioExpiredError,
    RedactedAudioIntegrityError,
    RedactionNotRequestedError,
    TranscriptFailedError,
    TranscriptNotFoundError,
)
from airflow_assemblyai.testing.emulator import Emulator, Faults
from tests.integration.transfers.transfer_support import (
    ONE_PART_IN_MEMORY,
    MiB,
    assert_aborted_mid_upload,
    downloads,
    object_exists,
    record_s3_calls,
    redacted_audio_calls,
    run,
    transfer,
    uploads_left,
)
from tests.support import REDACT, WAV

# -- the copy ---------------------------------------------------------------------------------------


def test_multipart_copy_is_byte_identical_labelled_and_checksummed(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=20 * MiB))
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="calls/a.wav")
    calls = record_s3_calls(operator)

    assert run(operator) == f"s3://{s3_bucket}/calls/a.wav"

    obj = s3.get_object(Bucket=s3_bucket, Key="calls/a.wav", ChecksumMode="ENABLED")
    audio = emu.redacted_audio(tid)
    assert obj["Body"].read() == audio
    assert obj["ContentType"] == "audio/wav"
    assert obj["Metadata"] == {
        "assemblyai-transcript-id": tid,
        "assemblyai-source-etag": hashlib.md5(audio).hexdigest(),
        "assemblyai-source-length": str(20 * MiB),
        "assemblyai-audio-format": "wav",
        "assemblyai-record-role": "audio",
        "assemblyai-source-md5": hashlib.md5(audio).hexdigest(),
    }
    assert calls.count("UploadPart") == 3
    assert "CompleteMultipartUpload" in calls
    assert obj["ETag"].endswith('-3"')
    assert "ChecksumCRC32" in obj
    assert uploads_left(s3, s3_bucket) == []


def test_small_mp3_is_one_put_labelled_audio_mpeg(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    pytest.importorskip("lameenc", reason="the emulator renders MP3 only with lameenc")
    tid = emu.add_transcript(params=REDACT)
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.mp3")
    calls = record_s3_calls(operator)

    run(operator)

    obj = s3.get_object(Bucket=s3_bucket, Key="a.mp3")
    assert obj["Body"].read() == emu.redacted_audio(tid)
    assert obj["ContentType"] == "audio/mpeg"
    assert "PutObject" in calls
    assert "CreateMultipartUpload" not in calls


def test_content_type_follows_the_bytes_and_a_misleading_suffix_is_warned_about(
    emu: Emulator, s3_bucket: str, s3: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    # The transcript asks for mp3 (the default) but the file host serves a WAV.
    tid = emu.add_transcript(params=REDACT, faults=Faults(redacted_size_bytes=MiB))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.audio"))
    assert "is named" not in "".join(capfd.readouterr())
    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="b.mp3"))

    for key in ("a.audio", "b.mp3"):
        assert s3.head_object(Bucket=s3_bucket, Key=key)["ContentType"] == "audio/wav"
    assert "is wav but its target b.mp3 is named .mp3" in "".join(capfd.readouterr())


def test_s3_url_in_s3_key_is_accepted(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV)

    uri = run(transfer(transcript_id=tid, s3_key=f"s3://{s3_bucket}/x/y.wav"))

    assert uri == f"s3://{s3_bucket}/x/y.wav"
    assert s3.get_object(Bucket=s3_bucket, Key="x/y.wav")["Body"].read() == emu.redacted_audio(tid)


# -- riding out faults ------------------------------------------------------------------------------


def test_cut_download_resumes_with_range_from_the_last_byte(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    faults = Faults(redacted_size_bytes=20 * MiB, cut_download_after=5 * MiB, cut_downloads=2)
    tid = emu.add_transcript(params=WAV, faults=faults)

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    served = downloads(emu)
    assert [r.status for r in served] == [206, 206, 206]
    assert [r.headers.get("range") for r in served] == ["bytes=0-", f"bytes={5 * MiB}-", f"bytes={10 * MiB}-"]
    assert redacted_audio_calls(emu) == 1  # a cut alone does not need a new URL


def test_expired_url_is_replaced_by_a_fresh_one(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=10 * MiB, expired_urls=1))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    assert [r.status for r in downloads(emu)] == [403, 206]
    assert redacted_audio_calls(emu) == 2
    first, second = (r.query["Signature"] for r in downloads(emu))
    assert first != second


def test_api_faults_are_ridden_out(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(api_errors=[503, 429], retry_after=0))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    assert [r.status for r in emu.requests if r.kind == "api"][:2] == [503, 429]


def test_file_host_5xx_is_retried(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(download_statuses=[503, 500]))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert [r.status for r in downloads(emu)] == [503, 500, 206]
    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)


def test_the_file_host_never_sees_the_api_key(emu: Emulator, s3_bucket: str) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(cut_download_after=10_000, expired_urls=1))

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert len(downloads(emu)) >= 3
    assert emu.violations == []
    assert all("authorization" not in r.headers for r in downloads(emu))
    assert all(r.headers.get("authorization") == emu.api_key for r in emu.requests if r.kind == "api")


# -- final errors fail fast, and leave nothing behind ---------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "error"),
    [
        pytest.param(
            lambda emu: emu.add_transcript(status="error", params=WAV), TranscriptFailedError, id="failed"
        ),
        pytest.param(
            lambda emu: emu.add_transcript(params={"redact_pii": True}),
            RedactionNotRequestedError,
            id="not-requested",
        ),
        pytest.param(lambda emu: _expired(emu), RedactedAudioExpiredError, id="expired"),
        pytest.param(lambda emu: "0123456789abcdef", TranscriptNotFoundError, id="unknown-id"),
    ],
)
def test_final_errors_fail_at_once_and_write_nothing(
    emu: Emulator, s3_bucket: str, s3: Any, seed: Callable[[Emulator], str], error: type[Exception]
) -> None:
    tid = seed(emu)

    with pytest.raises(error) as caught:
        run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert isinstance(caught.value, AirflowFailException)
    assert downloads(emu) == []
    assert [r.status for r in emu.requests if r.kind == "api" and r.status >= 500] == []
    assert not object_exists(s3, s3_bucket, "a.wav")
    assert uploads_left(s3, s3_bucket) == []


def test_an_archive_asks_assemblyai_once_and_an_unfinished_transcript_is_explained(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    tid = emu.add_transcript(params=WAV)
    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))
    # One request for a fresh URL, then one read of the transcript's words to listen to the redacted
    # ranges of the stored audio; the transcript is not read to decide whether to copy.
    assert [r.path for r in emu.requests if r.kind == "api"] == [
        f"/v2/transcript/{tid}/redacted-audio",
        f"/v2/transcript/{tid}",
    ]

    processing = emu.add_transcript(status="processing", params=WAV)
    with pytest.raises(AssemblyAIError, match=f"Transcript {processing} is still processing"):
        run(transfer(transcript_id=processing, s3_bucket=s3_bucket, s3_key="b.wav"))
    assert not object_exists(s3, s3_bucket, "b.wav")


def _expired(emu: Emulator) -> str:
    tid = emu.add_transcript(params=WAV)
    emu.expire(tid)
    return tid


def test_mismatching_md5_aborts_the_upload_mid_way(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=20 * MiB))
    emu.corrupt_redacted_audio(tid, 18 * MiB)  # one byte in the last part, length unchanged
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", **ONE_PART_IN_MEMORY)
    calls = record_s3_calls(operator)

    with pytest.raises(RedactedAudioIntegrityError, match="MD5"):
        run(operator)

    assert_aborted_mid_upload(calls, s3, s3_bucket, "a.wav")


def test_cut_that_exhausts_the_resume_budget_aborts_the_upload(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    faults = Faults(redacted_size_bytes=20 * MiB, cut_download_after=6 * MiB, cut_downloads=10)
    tid = emu.add_transcript(params=WAV, faults=faults)
    operator = transfer(
        transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", max_download_attempts=3, **ONE_PART_IN_MEMORY
    )
    calls = record_s3_calls(operator)

    with pytest.raises(AssemblyAITransientError, match="within 3 attempts") as caught:
        run(operator)

    assert len(downloads(emu)) == 3
    assert "UploadPart" in calls
    assert "AbortMultipartUpload" in calls
    assert not object_exists(s3, s3_bucket, "a.wav")
    assert uploads_left(s3, s3_bucket) == []
    assert emu.base_url not in str(caught.value)
    assert "Signature" not in str(caught.value)


def test_unfinished_upload_of_the_same_key_is_aborted_first(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    s3.create_multipart_upload(Bucket=s3_bucket, Key="a.wav")
    s3.create_multipart_upload(Bucket=s3_bucket, Key="a.wav.other")
    tid = emu.add_transcript(params=WAV)

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert [u["Key"] for u in uploads_left(s3, s3_bucket)] == ["a.wav.other"]
    assert object_exists(s3, s3_bucket, "a.wav")
