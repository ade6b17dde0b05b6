"""ResumableDownload: exact reads, resume, URL refresh and the end-of-stream checks.

Cases that need a real server (cuts, expired URLs) run against the emulator; cases that need one
crafted answer (a wrong ETag, a lying length) use ``httpx.MockTransport``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import httpx
import pytest

from airflow_assemblyai.exceptions import (
    AssemblyAIRequestError,
    AssemblyAITransientError,
    RedactedAudioIntegrityError,
)
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.transfers.stream import ResumableDownload

URL = "https://files.example.test/audio.wav?X-Amz-Signature=0123456789abcdef"
BODY = bytes(range(256)) * 40  # 10,240 bytes
MD5 = hashlib.md5(BODY).hexdigest()


def mock_download(
    handler: Callable[[httpx.Request], httpx.Response], **kwargs: object
) -> tuple[ResumableDownload, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = httpx.Client(transport=httpx.MockTransport(record))
    options = {"max_attempts": 3, "retry_wait_initial": 0.0, "retry_wait_max": 0.0, **kwargs}
    return ResumableDownload(lambda: URL, client=client, **options), seen  # type: ignore[arg-type]


def answer(data: bytes, status: int = 200, **headers: str) -> httpx.Response:
    """Return a streamed answer (``content=`` would be pre-read, which ``iter_raw`` refuses)."""
    headers = {"Content-Length": str(len(data)), **{k.replace("_", "-"): v for k, v in headers.items()}}
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(data))


class _CutStream(httpx.SyncByteStream):
    """A body that sends ``data`` and then drops the connection."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data
        raise httpx.RemoteProtocolError("peer closed connection")


# -- against the emulator ---------------------------------------------------------------------------


@pytest.fixture
def fresh_url(emulator_connection: Emulator) -> Callable[[str], Callable[[], str]]:
    hook = AssemblyAIHook(max_attempts=2, retry_wait_initial=0.0, retry_wait_max=0.0)

    def for_transcript(transcript_id: str) -> Callable[[], str]:
        return lambda: hook.get_redacted_audio(transcript_id).url or ""

    return for_transcript


def test_reads_are_exactly_the_size_asked_until_the_end(
    emulator: Emulator, fresh_url: Callable[[str], Callable[[], str]]
) -> None:
    tid = emulator.add_transcript(params={"redact_pii": True, "redact_pii_audio": True})
    expected = emulator.redacted_audio(tid)
    sizes = []
    with httpx.Client() as client, ResumableDownload(fresh_url(tid), client=client) as stream:
        head = stream.peek(12)
        parts = []
        while part := stream.read(1000):
            sizes.append(len(part))
            parts.append(part)

    assert head == expected[:12]
    assert b"".join(parts) == expected
    assert set(sizes[:-1]) == {1000}
    assert 0 < sizes[-1] <= 1000


def test_a_cut_then_an_expired_url_resume_at_the_right_byte_with_a_fresh_url(
    emulator: Emulator, fresh_url: Callable[[str], Callable[[], str]]
) -> None:
    params = {"redact_pii": True, "redact_pii_audio": True, "redact_pii_audio_quality": "wav"}
    tid = emulator.add_transcript(
        params=params, faults=Faults(redacted_size_bytes=3_000_000, cut_download_after=1_000_000)
    )
    minted = []

    def counting_url() -> str:
        minted.append(1)
        return fresh_url(tid)()

    with (
        httpx.Client() as client,
        ResumableDownload(counting_url, client=client, retry_wait_initial=0.0, retry_wait_max=0.0) as stream,
    ):
        stream.open()  # the first answer is armed with the cut
        emulator.set_faults(tid, Faults(download_statuses=[403]))  # the resume meets a refused URL
        data = stream.read()

    assert data == emulator.redacted_audio(tid)
    served = [r for r in emulator.requests if r.kind == "download"]
    assert [r.status for r in served] == [200, 403, 206]
    assert served[2].headers["range"] == "bytes=1000000-"
    assert served[1].query["Signature"] == served[0].query["Signature"]
    assert served[2].query["Signature"] != served[0].query["Signature"]
    assert len(minted) == 2
    assert stream.resumes == 2


# -- one crafted answer each --------------------------------------------------------------------------


def test_md5_mismatch_raises_in_the_final_read_only() -> None:
    wrong = hashlib.md5(b"something else").hexdigest()
    stream, _ = mock_download(lambda _: answer(BODY, ETag=f'"{wrong}"'))

    assert len(stream.read(8000)) == 8000
    with pytest.raises(RedactedAudioIntegrityError, match="MD5"):
        stream.read(8000)


def test_matching_md5_passes() -> None:
    stream, _ = mock_download(lambda _: answer(BODY, ETag=f'"{MD5}"'))

    assert stream.read() == BODY
    assert stream.etag_is_md5


@pytest.mark.parametrize(
    "headers",
    [
        {"ETag": '"0123456789abcdef0123456789abcdef"', "x-amz-server-side-encryption": "aws:kms"},
        {
            "ETag": '"0123456789abcdef0123456789abcdef"',
            "x-amz-server-side-encryption-customer-algorithm": "AES256",
        },
        {"ETag": '"0123456789abcdef0123456789abcdef-3"'},
    ],
    ids=["sse-kms", "sse-c", "multipart-etag"],
)
def test_etag_that_is_not_an_md5_is_not_compared(headers: dict[str, str]) -> None:
    stream, _ = mock_download(lambda _: answer(BODY, **headers))

    assert stream.read() == BODY
    assert not stream.etag_is_md5


def test_more_bytes_than_announced_is_an_integrity_error() -> None:
    stream, _ = mock_download(lambda _: answer(BODY, Content_Length="100"))

    with pytest.raises(RedactedAudioIntegrityError, match="more bytes"):
        stream.read()


def test_a_200_to_a_range_request_skips_what_was_received() -> None:
    def full_answer_twice(request: httpx.Request) -> httpx.Response:
        if "range" not in request.headers:
            return httpx.Response(
                200,
                headers={"Content-Length": str(len(BODY)), "ETag": f'"{MD5}"'},
                stream=_CutStream(BODY[:4000]),
            )
        return answer(BODY, ETag=f'"{MD5}"')

    stream, seen = mock_download(full_answer_twice)

    assert stream.read() == BODY
    assert seen[1].headers["range"] == "bytes=4000-"
    assert stream.etag_is_md5  # the MD5 covered each byte once


def test_passing_faults_stop_at_the_attempt_budget() -> None:
    stream, seen = mock_download(lambda _: httpx.Response(503), max_attempts=3)

    with pytest.raises(AssemblyAITransientError, match="within 3 attempts") as caught:
        stream.read(10)

    assert len(seen) == 3
    assert "files.example.test" not in str(caught.value)
    assert "Signature" not in str(caught.value)


def test_a_refusal_is_final_and_names_no_url() -> None:
    stream, seen = mock_download(lambda _: httpx.Response(404))

    with pytest.raises(AssemblyAIRequestError, match="HTTP 404") as caught:
        stream.read(10)

    assert len(seen) == 1
    assert "files.example.test" not in str(caught.value)
    assert "0123456789abcdef" not in str(caught.value)


def test_no_content_decoding_and_no_credentials_are_sent() -> None:
    stream, seen = mock_download(lambda _: answer(BODY))

    stream.read()

    assert seen[0].headers["accept-encoding"] == "identity"
    assert "authorization" not in seen[0].headers
