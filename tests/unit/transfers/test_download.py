"""ResumableDownload: exact reads, resume, URL refresh and the end-of-stream checks.

Cases that need a real server (cuts, expired URLs) run against the emulator; cases that need one
crafted answer (a wrong ETag, a lying length) use ``httpx.MockTransport``.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from airflow_assemblyai.archive.download import ResumableDownload
from airflow_assemblyai.exceptions import (
    AssemblyAIRequestError,
    AssemblyAITransientError,
    RedactedAudioExpiredError,
    RedactedAudioIntegrityError,
)
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook
from airflow_assemblyai.testing.emulator import Emulator, Faults

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
def fresh_url(assemblyai_connection: Emulator) -> Callable[[str], Callable[[], str]]:
    hook = AssemblyAIHook(max_attempts=2, retry_wait_initial=0.0, retry_wait_max=0.0)

    def for_transcript(transcript_id: str) -> Callable[[], str]:
        return lambda: hook.get_redacted_audio(transcript_id).url or ""

    return for_transcript


def test_reads_are_exactly_the_size_asked_until_the_end(
    assemblyai_emulator: Emulator, fresh_url: Callable[[str], Callable[[], str]]
) -> None:
    emulator = assemblyai_emulator
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
    assemblyai_emulator: Emulator, fresh_url: Callable[[str], Callable[[], str]]
) -> None:
    emulator = assemblyai_emulator
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
    assert [r.status for r in served] == [206, 403, 206]
    assert served[0].headers["range"] == "bytes=0-"
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
        if request.headers["range"] == "bytes=0-":
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


# -- a known length, or nothing is archived --------------------------------------------------------


def test_the_first_request_asks_for_bytes_0_and_a_206_total_is_the_length() -> None:
    def ranged(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Range": f"bytes 0-{len(BODY) - 1}/{len(BODY)}"}  # no Content-Length
        return httpx.Response(206, headers=headers, stream=httpx.ByteStream(BODY))

    stream, seen = mock_download(ranged)

    assert stream.open().length == len(BODY)
    assert stream.read() == BODY
    assert seen[0].headers["range"] == "bytes=0-"


def test_no_length_and_no_md5_etag_is_refused_before_any_byte_is_read() -> None:
    stream, seen = mock_download(lambda _: httpx.Response(200, stream=httpx.ByteStream(BODY)))

    with pytest.raises(RedactedAudioIntegrityError, match="neither a length"):
        stream.open()

    assert len(seen) == 1
    assert stream.bytes_received == 0


def test_a_close_delimited_body_that_ends_early_fails_its_md5() -> None:
    short = httpx.Response(200, headers={"ETag": f'"{MD5}"'}, stream=httpx.ByteStream(BODY[:5000]))
    stream, _ = mock_download(lambda _: short)

    with pytest.raises(RedactedAudioIntegrityError, match="MD5"):
        stream.read()


# -- expired credentials are refreshed, whatever the status ------------------------------------------


def s3_error(status: int, code: str, message: str = "") -> httpx.Response:
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
    return answer(body, status, Content_Type="application/xml")


def minting_download(
    handler: Callable[[httpx.Request], httpx.Response], **kwargs: object
) -> tuple[ResumableDownload, list[httpx.Request], list[str]]:
    minted: list[str] = []

    def fresh_url() -> str:
        minted.append(f"{URL}&n={len(minted)}")
        return minted[-1]

    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    client = httpx.Client(transport=httpx.MockTransport(record))
    options = {"max_attempts": 5, "retry_wait_initial": 0.0, "retry_wait_max": 0.0, **kwargs}
    return ResumableDownload(fresh_url, client=client, **options), seen, minted  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "ExpiredToken", "The token has expired."),
        (400, "TokenRefreshRequired", ""),
        (400, "RequestExpired", ""),
        (403, "AccessDenied", "Request has expired"),
    ],
)
def test_an_expiry_on_400_or_403_mints_a_fresh_url(status: int, code: str, message: str) -> None:
    def expired_then_fine(request: httpx.Request) -> httpx.Response:
        return s3_error(status, code, message) if request.url.params["n"] == "0" else answer(BODY)

    stream, seen, minted = minting_download(expired_then_fine)

    assert stream.read() == BODY
    assert len(minted) == 2
    assert [request.url.params["n"] for request in seen] == ["0", "1"]


def test_a_refusal_that_persists_with_a_fresh_url_is_final() -> None:
    stream, seen, minted = minting_download(lambda _: s3_error(403, "SignatureDoesNotMatch"))

    with pytest.raises(AssemblyAIRequestError, match="SignatureDoesNotMatch even with a fresh URL") as caught:
        stream.read(10)

    assert (len(seen), len(minted)) == (2, 2)
    assert "files.example.test" not in str(caught.value)


def test_another_400_is_final_at_once() -> None:
    stream, seen, _ = minting_download(lambda _: s3_error(400, "InvalidArgument", "Bad header."))

    with pytest.raises(AssemblyAIRequestError, match="HTTP 400 InvalidArgument"):
        stream.read(10)

    assert len(seen) == 1


def test_a_404_says_the_file_is_gone() -> None:
    stream, _, _ = minting_download(lambda _: s3_error(404, "NoSuchKey"))

    with pytest.raises(RedactedAudioExpiredError, match=r"no longer has the file.*24 hours"):
        stream.read(10)


def test_refreshes_back_off_from_the_second_expiry_in_a_row(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("airflow_assemblyai.archive.download.random.uniform", lambda low, high: high)

    def three_expiries(request: httpx.Request) -> httpx.Response:
        return s3_error(400, "ExpiredToken") if int(request.url.params["n"]) < 3 else answer(BODY)

    stream, _, minted = minting_download(three_expiries, retry_wait_initial=0.05, retry_wait_max=1.0)

    assert stream.read() == BODY
    waits = re.findall(r"in (\d+\.\d) s", caplog.text)
    assert waits == ["0.0", "0.1", "0.2"]  # the first refresh is immediate, then the backoff doubles
    assert len(minted) == 4


def test_an_expired_token_on_a_resume_is_replaced_and_the_resume_continues(
    assemblyai_emulator: Emulator, fresh_url: Callable[[str], Callable[[], str]]
) -> None:
    emulator = assemblyai_emulator
    params = {"redact_pii": True, "redact_pii_audio": True, "redact_pii_audio_quality": "wav"}
    faults = Faults(
        redacted_size_bytes=3_000_000, cut_download_after=1_000_000, resume_errors=["ExpiredToken"]
    )
    tid = emulator.add_transcript(params=params, faults=faults)

    with httpx.Client() as client, ResumableDownload(fresh_url(tid), client=client) as stream:
        data = stream.read()

    assert data == emulator.redacted_audio(tid)
    served = [r for r in emulator.requests if r.kind == "download"]
    assert [r.status for r in served] == [206, 400, 206]
    assert [r.headers["range"] for r in served] == ["bytes=0-", "bytes=1000000-", "bytes=1000000-"]
    tokens = [r.query["x-amz-security-token"] for r in served]
    assert tokens[0] == tokens[1] != tokens[2]


# -- cancellation ----------------------------------------------------------------------------------------


def test_cancel_from_another_thread_ends_a_read_blocked_on_the_network(
    assemblyai_emulator: Emulator, fresh_url: Callable[[str], Callable[[], str]]
) -> None:
    emulator = assemblyai_emulator
    params = {"redact_pii": True, "redact_pii_audio": True, "redact_pii_audio_quality": "wav"}
    # After 1 MB the file host sends 64 KiB an hour: a read past it blocks in the socket.
    faults = Faults(redacted_size_bytes=3_000_000, slow_body_after=1_000_000, slow_body_delay=3600)
    tid = emulator.add_transcript(params=params, faults=faults)
    first_part_read = threading.Event()
    outcome: list[BaseException] = []

    def reader(stream: ResumableDownload) -> None:
        try:
            stream.read(1_000_000)
            first_part_read.set()
            stream.read(1_000_000)
        except BaseException as exc:
            outcome.append(exc)

    with httpx.Client(timeout=3600) as client, ResumableDownload(fresh_url(tid), client=client) as stream:
        thread = threading.Thread(target=reader, args=(stream,), daemon=True)
        thread.start()
        assert first_part_read.wait(60)
        stream.cancel()
        thread.join(60)  # a liveness bound only: without cancel the read would wait an hour

        assert not thread.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], AssemblyAITransientError)
    assert "cancelled" in str(outcome[0])
    assert stream.attempts == 1  # the shut connection was not resumed
