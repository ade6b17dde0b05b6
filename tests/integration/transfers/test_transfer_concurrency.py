"""replace=False holds under concurrency: conditional writes, 409s, stores without them."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pytest

from airflow_assemblyai.exceptions import (
    AssemblyAIFinalError,
)
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
    AssemblyAIRedactedAudioToObjectStorageOperator,
)
from tests.integration.transfers.transfer_support import (
    MiB,
    record_s3_calls,
    redacted_audio_calls,
    run,
    transfer,
    uploads_left,
)
from tests.support import WAV

# -- replace=False holds under concurrency --------------------------------------------------------------


def is_audio_request(url: str) -> bool:
    """Return True when an S3 request's URL is not one of the files recorded beside the audio (its
    digest, its redaction evidence)."""
    return not url.partition("?")[0].endswith((".digest.json", ".redaction.json"))


def record_s3_headers(
    operator: AssemblyAIRedactedAudioToObjectStorageOperator,
) -> list[tuple[str, dict[str, str]]]:
    """Record ``(operation, request headers)`` of every S3 request the operator's client sends about
    the audio (the files recorded beside it are left aside)."""
    sent: list[tuple[str, dict[str, str]]] = []

    def record(request: Any, event_name: str, **_: Any) -> None:
        if not is_audio_request(request.url):
            return
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        sent.append((event_name.rsplit(".", 1)[-1], headers))

    operator.s3_hook.get_conn().meta.events.register("before-send.s3", record)
    return sent


def script_s3_answer(
    operator: AssemblyAIRedactedAudioToObjectStorageOperator,
    operation: str,
    status: int,
    code: str,
    *,
    times: int = 1,
    when: Callable[[dict[str, Any]], bool] = lambda _: True,
) -> None:
    """Answer the next ``times`` matching ``operation`` requests with an S3 error moto cannot produce."""
    from botocore.awsrequest import AWSResponse

    left = [times]

    def answer(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        if left[0] <= 0 or not when(params):
            return None
        left[0] -= 1
        error = {
            "Error": {"Code": code, "Message": "Scripted."},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return AWSResponse("https://s3.invalid", status, {}, None), error

    operator.s3_hook.get_conn().meta.events.register(f"before-call.s3.{operation}", answer)


@pytest.mark.parametrize("replace", [False, True])
@pytest.mark.parametrize("size", [20 * MiB, None], ids=["multipart", "single-put"])
def test_if_none_match_goes_on_the_completing_write_unless_replace(
    emu: Emulator, s3_bucket: str, replace: bool, size: int | None
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=size))
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav", replace=replace)
    sent = record_s3_headers(operator)

    run(operator)

    conditional = {op: headers.get("if-none-match") for op, headers in sent if "if-none-match" in headers}
    completing = "CompleteMultipartUpload" if size else "PutObject"
    assert conditional == ({} if replace else {completing: "*"})


def race(
    emu: Emulator, s3_bucket: str, first: str, second: str, *, multipart: bool
) -> tuple[list[Any], list[list[str]], list[int]]:
    """Run two transfers to one key; both check the key before either completes; ``first`` completes first.

    Return each one's outcome (the URI or the exception), its S3 calls, and the status S3 answered
    to its completing request.
    """
    operators = [transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav") for tid in (first, second)]
    opening = "CreateMultipartUpload" if multipart else "PutObject"
    completing = "CompleteMultipartUpload" if multipart else "PutObject"
    checked, ready = threading.Barrier(2, timeout=60), threading.Barrier(2, timeout=60)
    first_completed = threading.Event()
    calls = [record_s3_calls(operator) for operator in operators]
    statuses: list[int] = [0, 0]

    def opened(**_: Any) -> None:
        checked.wait()  # both checked the key and swept it before either opens an upload

    for index, operator in enumerate(operators):

        def hold(params: dict[str, Any], index: int = index, **_: Any) -> None:
            if not is_audio_request(params.get("url", "")):
                return  # the digest and the evidence recorded after the audio
            ready.wait()  # both hold their whole audio before either completes
            if index == 1:
                first_completed.wait(60)

        def completed(http_response: Any, index: int = index, **_: Any) -> None:
            if not is_audio_request(http_response.url):
                return
            statuses[index] = http_response.status_code
            if index == 0:
                first_completed.set()

        events = operator.s3_hook.get_conn().meta.events
        if multipart:
            events.register(f"before-call.s3.{opening}", opened)
        events.register(f"before-call.s3.{completing}", hold)
        events.register(f"after-call.s3.{completing}", completed)

    outcomes: list[Any] = [None, None]

    def go(index: int) -> None:
        try:
            outcomes[index] = run(operators[index])
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return outcomes, calls, statuses


@pytest.mark.parametrize("multipart", [True, False], ids=["multipart", "single-put"])
def test_two_writers_to_one_key_exactly_one_completes(
    emu: Emulator, s3_bucket: str, s3: Any, multipart: bool
) -> None:
    faults = Faults(redacted_size_bytes=20 * MiB if multipart else None)
    winner = emu.add_transcript(params=WAV, faults=faults)
    loser = emu.add_transcript(params=WAV, faults=dataclasses.replace(faults))

    outcomes, calls, statuses = race(emu, s3_bucket, winner, loser, multipart=multipart)

    assert outcomes[0] == f"s3://{s3_bucket}/a.wav"
    assert isinstance(outcomes[1], AssemblyAIFinalError)
    assert f"already exists and holds the audio of transcript {winner}" in str(outcomes[1])
    assert statuses == [200, 412]
    opening = "CreateMultipartUpload" if multipart else "PutObject"
    assert all(c.index("HeadObject") < c.index(opening) for c in calls)  # both checked the key first
    stored = s3.get_object(Bucket=s3_bucket, Key="a.wav")
    assert stored["Body"].read() == emu.redacted_audio(winner)
    assert stored["Metadata"]["assemblyai-transcript-id"] == winner
    assert uploads_left(s3, s3_bucket) == []


def test_two_writers_of_the_same_transcript_both_succeed(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=20 * MiB))

    outcomes, _, statuses = race(emu, s3_bucket, tid, tid, multipart=True)

    assert outcomes == [f"s3://{s3_bucket}/a.wav"] * 2  # the one that met 412 found its own audio there
    assert statuses == [200, 412]
    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    assert uploads_left(s3, s3_bucket) == []


def test_a_409_conditional_conflict_is_retried(emu: Emulator, s3_bucket: str, s3: Any) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=20 * MiB))
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")
    script_s3_answer(operator, "CompleteMultipartUpload", 409, "ConditionalRequestConflict")
    answered: list[int] = []
    operator.s3_hook.get_conn().meta.events.register(
        "after-call.s3.CompleteMultipartUpload",
        lambda http_response, **_: answered.append(http_response.status_code),
    )

    run(operator)

    assert answered == [409, 200]
    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    assert uploads_left(s3, s3_bucket) == []


@pytest.mark.parametrize("multipart", [True, False], ids=["multipart", "single-put"])
def test_a_store_without_conditional_writes_gets_the_checked_write_and_a_warning(
    emu: Emulator, s3_bucket: str, s3: Any, capfd: pytest.CaptureFixture[str], multipart: bool
) -> None:
    tid = emu.add_transcript(params=WAV, faults=Faults(redacted_size_bytes=20 * MiB if multipart else None))
    operator = transfer(transcript_id=tid, s3_bucket=s3_bucket, s3_key="a.wav")
    completing = "CompleteMultipartUpload" if multipart else "PutObject"
    # A store that refuses the header wherever it appears, as some S3-compatible stores do.
    script_s3_answer(
        operator, completing, 501, "NotImplemented", times=99, when=lambda p: "If-None-Match" in p["headers"]
    )
    sent = record_s3_headers(operator)

    run(operator)

    assert [("if-none-match" in h) for op, h in sent if op == completing] == [False]
    assert s3.get_object(Bucket=s3_bucket, Key="a.wav")["Body"].read() == emu.redacted_audio(tid)
    assert uploads_left(s3, s3_bucket) == []
    assert redacted_audio_calls(emu) == 2  # the refused attempt, then the unconditional one
    assert "does not implement conditional writes" in "".join(capfd.readouterr())
