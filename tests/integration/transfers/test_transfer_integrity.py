"""Only the intact audio is ever completed; expired credentials and the 24-hour window."""

from __future__ import annotations

import re
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_assemblyai.exceptions import (
    AssemblyAIFinalError,
    RedactedAudioExpiredError,
    RedactedAudioIntegrityError,
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
)
from tests.support import WAV

# -- only the intact audio is ever completed ----------------------------------------------------------------


@pytest.mark.parametrize("body", ["html", "empty"])
def test_an_html_page_or_an_empty_body_is_never_archived(
    emu: Emulator, s3_bucket: str, s3: Any, body: str
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(substitute_body=body))
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")
    calls = record_s3_calls(operator)

    with pytest.raises(RedactedAudioIntegrityError, match="HTML or XML page" if body == "html" else "empty"):
        run(operator)

    assert not set(calls) & {"PutObject", "CreateMultipartUpload"}
    assert not object_exists(s3, s3_bucket, "a.wav")


def test_an_unverifiable_body_is_refused_and_a_task_retry_can_archive_it(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    # No length of any kind and no MD5 ETag: a cut could not be told from the end.
    tid = emu.add_transcript(params=WAV, faults=Faults(unknown_length=True, etag_style="multipart"))

    with pytest.raises(RedactedAudioIntegrityError, match="neither a length") as caught:
        run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert not isinstance(caught.value, AirflowFailException)
    assert not object_exists(s3, s3_bucket, "a.wav")
    emu.set_faults(tid, Faults())  # the next attempt meets a well-behaved host
    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))
    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)


def test_a_close_delimited_body_cut_short_is_never_completed(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    faults = Faults(redacted_size_bytes=30 * MiB, unknown_length=True, short_body_after=20 * MiB)
    tid = emu.add_transcript(params=WAV, faults=faults)
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", **ONE_PART_IN_MEMORY)
    calls = record_s3_calls(operator)

    with pytest.raises(RedactedAudioIntegrityError, match="MD5"):
        run(operator)

    assert_aborted_mid_upload(calls, s3, s3_bucket, "a.wav")


def test_a_wav_truncated_at_the_source_is_refused_by_its_header(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    # The host serves a consistent length and a multipart ETag (no MD5): only the RIFF sizes tell.
    tid = emu.add_transcript(params=WAV, faults=Faults(etag_style="multipart"))
    served = emu.redacted_audio_path(tid)
    served.write_bytes(served.read_bytes()[:-5000])

    with pytest.raises(RedactedAudioIntegrityError, match="truncated"):
        run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert not object_exists(s3, s3_bucket, "a.wav")


def test_an_object_archived_without_a_recorded_length_is_still_recognised(
    emu: Emulator, s3_bucket: str, s3: Any
) -> None:
    tid = emu.add_transcript(params=WAV)
    # As 0.1.0 wrote it when the file host announced no length.
    s3.put_object(
        Bucket=s3_bucket,
        Key="a.wav",
        Body=emu.redacted_audio(tid),
        Metadata={"assemblyai-transcript-id": tid, "assemblyai-source-length": ""},
    )
    emu.expire(tid)

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    # Recognised without a fresh URL or a download; only the words are read, to listen to it.
    assert [r.path for r in emu.requests if r.kind in ("api", "download")] == [f"/v2/transcript/{tid}"]


# -- expired credentials on the file host ----------------------------------------------------------------


@pytest.mark.parametrize("code", ["ExpiredToken", "TokenRefreshRequired", "RequestExpired"])
def test_a_400_expiry_on_a_resume_gets_a_fresh_url(emu: Emulator, s3_bucket: str, s3: Any, code: str) -> None:
    faults = Faults(redacted_size_bytes=10 * MiB, cut_download_after=3 * MiB, resume_errors=[code])
    tid = emu.add_transcript(params=WAV, faults=faults)

    run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    assert [r.status for r in downloads(emu)] == [206, 400, 206]
    assert downloads(emu)[2].headers["range"] == f"bytes={3 * MiB}-"
    assert redacted_audio_calls(emu) == 2


def test_a_403_that_persists_with_a_fresh_url_is_final(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    faults = Faults(download_errors=["SignatureDoesNotMatch", "SignatureDoesNotMatch"])
    tid = emu.add_transcript(params=WAV, faults=faults)

    with pytest.raises(AssemblyAIFinalError, match="SignatureDoesNotMatch even with a fresh URL"):
        run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert [r.status for r in downloads(emu)] == [403, 403]
    assert redacted_audio_calls(emu) == 2
    assert not object_exists(s3, s3_bucket, "a.wav")


# -- the 24-hour window ----------------------------------------------------------------------------------


def test_a_file_near_the_end_of_its_24_hours_warns_with_the_time_left(
    emu: Emulator, s3_bucket: str, capfd: pytest.CaptureFixture[str]
) -> None:
    fresh = emu.add_transcript(params=WAV)
    old = emu.add_transcript(params=WAV, faults=Faults(file_age_seconds=23 * 3600))

    run(transfer(transcript_id=fresh, s3_bucket=s3_bucket, s3_key="fresh.wav"))
    assert "are left to archive it" not in "".join(capfd.readouterr())
    run(transfer(transcript_id=old, s3_bucket=s3_bucket, s3_key="old.wav"))

    logs = "".join(capfd.readouterr())
    assert re.search(rf"transcript {old} was rendered at .*about 0h[45]\dm are left to archive it", logs)


@pytest.mark.parametrize("where", ["api", "file-host"])
def test_once_the_file_is_gone_the_error_says_so(emu: Emulator, s3_bucket: str, where: str) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(download_errors=["NoSuchKey"]))
    if where == "api":
        emu.expire(tid)

    with pytest.raises(RedactedAudioExpiredError, match="24 hours") as caught:
        run(transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav"))

    assert isinstance(caught.value, AirflowFailException)
