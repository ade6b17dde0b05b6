"""The emulator's file host over real HTTP: AssemblyAI-shaped URLs and each scripted file-host fault."""

from __future__ import annotations

import base64
import hashlib
import re
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from airflow_assemblyai.testing.emulator import HTML_ERROR_PAGE, Emulator, Faults
from tests.support import WAV


def ready_url(emulator: Emulator, transcript_id: str) -> str:
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": emulator.api_key}) as client:
        answer = client.get(f"/v2/transcript/{transcript_id}/redacted-audio")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["redacted_audio_url"])


def test_urls_carry_an_encoded_base64_signature_and_a_session_token(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params=WAV)
    url = ready_url(assemblyai_emulator, tid)

    query = urlsplit(url).query
    assert all(escape in query.split("Signature=")[1].split("&")[0] for escape in ("%2B", "%2F", "%3D"))
    assert "x-amz-security-token=" in query
    decoded = parse_qs(query)
    assert len(base64.b64decode(decoded["Signature"][0])) == 20  # an HMAC-SHA1, as SigV2 has it
    assert httpx.get(url).content == assemblyai_emulator.redacted_audio(tid)


def test_a_signature_sent_without_its_percent_encoding_is_refused(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params=WAV)
    url = ready_url(assemblyai_emulator, tid)
    # "+" sent raw means a space once decoded: the host checks the signature after decoding.
    raw = url.replace("%2B", "+")

    refused = httpx.get(raw)

    assert (refused.status_code, "<Code>SignatureDoesNotMatch</Code>" in refused.text) == (403, True)


def test_an_expired_token_on_a_resume_stays_expired_for_that_url(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params=WAV, faults=Faults(resume_errors=["ExpiredToken"]))
    url = ready_url(assemblyai_emulator, tid)

    assert httpx.get(url, headers={"Range": "bytes=0-"}).status_code == 206  # not a resume
    expired = httpx.get(url, headers={"Range": "bytes=100-"})
    again = httpx.get(url, headers={"Range": "bytes=100-"})
    fresh = httpx.get(ready_url(assemblyai_emulator, tid), headers={"Range": "bytes=100-"})

    assert (expired.status_code, again.status_code, fresh.status_code) == (400, 400, 206)
    assert "<Code>ExpiredToken</Code>" in expired.text
    assert fresh.content == assemblyai_emulator.redacted_audio(tid)[100:]


def test_download_errors_answer_s3_xml_with_their_status(assemblyai_emulator: Emulator) -> None:
    faults = Faults(download_errors=["SignatureDoesNotMatch", "NoSuchKey", "TokenRefreshRequired"])
    tid = assemblyai_emulator.add_transcript(params=WAV, faults=faults)

    answers = [httpx.get(ready_url(assemblyai_emulator, tid)) for _ in range(4)]

    assert [a.status_code for a in answers] == [403, 404, 400, 200]
    assert "<Code>NoSuchKey</Code>" in answers[1].text


def test_an_unknown_length_body_has_no_length_and_ignores_range(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params=WAV, faults=Faults(unknown_length=True))

    answer = httpx.get(ready_url(assemblyai_emulator, tid), headers={"Range": "bytes=0-"})

    assert answer.status_code == 200
    assert "content-length" not in answer.headers
    assert "content-range" not in answer.headers
    assert answer.content == assemblyai_emulator.redacted_audio(tid)


def test_a_short_body_ends_cleanly_before_the_end(assemblyai_emulator: Emulator) -> None:
    faults = Faults(unknown_length=True, short_body_after=1000, short_bodies=1)
    tid = assemblyai_emulator.add_transcript(params=WAV, faults=faults)
    url = ready_url(assemblyai_emulator, tid)

    assert (
        httpx.get(url).content == assemblyai_emulator.redacted_audio(tid)[:1000]
    )  # no error: just an early end
    assert httpx.get(url).content == assemblyai_emulator.redacted_audio(tid)


@pytest.mark.parametrize(("body", "expected"), [("html", HTML_ERROR_PAGE), ("empty", b"")])
def test_a_substitute_body_is_served_with_200(
    assemblyai_emulator: Emulator, body: str, expected: bytes
) -> None:
    tid = assemblyai_emulator.add_transcript(params=WAV, faults=Faults(substitute_body=body))

    answer = httpx.get(ready_url(assemblyai_emulator, tid))

    assert (answer.status_code, answer.content) == (200, expected)


@pytest.mark.parametrize(
    ("style", "pattern"), [("md5", r"^[0-9a-f]{32}$"), ("multipart", r"^[0-9a-f]{32}-1$")]
)
def test_etag_styles(assemblyai_emulator: Emulator, style: str, pattern: str) -> None:
    tid = assemblyai_emulator.add_transcript(params=WAV, faults=Faults(etag_style=style))

    etag = httpx.get(ready_url(assemblyai_emulator, tid)).headers["etag"].strip('"')

    assert re.fullmatch(pattern, etag)
    assert etag.split("-")[0] == hashlib.md5(assemblyai_emulator.redacted_audio(tid)).hexdigest()


def test_no_etag_style(assemblyai_emulator: Emulator) -> None:
    tid = assemblyai_emulator.add_transcript(params=WAV, faults=Faults(etag_style="none"))

    assert "etag" not in httpx.get(ready_url(assemblyai_emulator, tid)).headers


def test_a_slow_body_sends_the_rest_slowly_and_counts_what_it_served(assemblyai_emulator: Emulator) -> None:
    faults = Faults(redacted_size_bytes=2_000_000, slow_body_after=1_000_000, slow_body_delay=3600)
    tid = assemblyai_emulator.add_transcript(params=WAV, faults=faults)
    received = 0

    with httpx.stream("GET", ready_url(assemblyai_emulator, tid), timeout=60) as answer:
        for chunk in answer.iter_raw():
            received += len(chunk)
            if received >= 1_000_000:
                break

    assert received == 1_000_000  # everything before the slow part, nothing after it
    assert assemblyai_emulator.served_bytes(tid) == 1_000_000


def test_the_file_age_backdates_last_modified(assemblyai_emulator: Emulator) -> None:
    fresh = assemblyai_emulator.add_transcript(params=WAV)
    old = assemblyai_emulator.add_transcript(params=WAV, faults=Faults(file_age_seconds=23 * 3600))

    fresh_at, old_at = (
        parsedate_to_datetime(httpx.get(ready_url(assemblyai_emulator, tid)).headers["last-modified"])
        for tid in (fresh, old)
    )

    assert round((fresh_at - old_at).total_seconds() / 3600) == 23
