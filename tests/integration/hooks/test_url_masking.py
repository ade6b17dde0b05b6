"""Pre-signed URLs in Airflow's own secrets masker: each query value raw and decoded, and redirects."""

from __future__ import annotations

import base64
import io
import json
import logging
import secrets
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import structlog
from airflow.sdk.log import logging_processors

from airflow_assemblyai.masking import mask_presigned_url, mask_redirect_location


def sigv2_url(base: str = "https://bucket.s3.amazonaws.com/redacted-audio") -> tuple[str, dict[str, str]]:
    """Return a fresh SigV2-style URL as AssemblyAI sends one, and its query values by name.

    The signature and the session token are base64 with ``+``, ``/`` and ``=``, which the URL
    carries percent-encoded (``%2B``, ``%2F``, ``%3D``).
    """
    values = {
        "access_key": f"ASIA{secrets.token_hex(8).upper()}",
        "expires": str(1_893_456_000 + secrets.randbelow(10**8)),
        "signature": base64.b64encode(secrets.token_bytes(15) + b"\xfb\xff").decode(),
        "token": base64.b64encode(b"\xfb\xff\xbf" + secrets.token_bytes(40)).decode(),
    }
    url = (
        f"{base}/{uuid.uuid4().hex}.mp3?AWSAccessKeyId={values['access_key']}"
        f"&Expires={values['expires']}"
        f"&Signature={quote(values['signature'], safe='')}"
        f"&x-amz-security-token={quote(values['token'], safe='')}"
    )
    return url, values


def every_form(values: dict[str, str]) -> list[str]:
    """Return each query value as it stands in the URL and decoded."""
    forms = [form for value in values.values() for form in (value, quote(value, safe=""))]
    assert any("%2B" in f and "%2F" in f and "%3D" in f for f in forms)  # the encoded forms are real
    return forms


def task_log_line(message: str) -> str:
    """Write ``message`` as the supervisor writes a task's log file, through Airflow's processors."""
    buffer = io.BytesIO()
    logger = structlog.wrap_logger(
        structlog.BytesLogger(buffer), processors=logging_processors(json_output=True), logger_name="task"
    )
    logger.info(message)
    return str(json.loads(buffer.getvalue())["event"])


def test_every_query_value_prints_as_stars_raw_and_decoded() -> None:
    url, values = sigv2_url()
    forms = every_form(values)
    assert [task_log_line(f"value {form} end") for form in forms] == [f"value {form} end" for form in forms]

    mask_presigned_url(url)

    assert task_log_line(f"GET {url} done") == "GET *** done"
    assert task_log_line(f"signature {quote(values['signature'], safe='')}") == "signature ***"
    for form in forms:
        assert task_log_line(f"value {form} end") == "value *** end"


class _RedirectingHandler(BaseHTTPRequestHandler):
    """Answer ``/start`` with a redirect to the server's ``location``, anything else with audio."""

    server: _RedirectingServer

    def do_GET(self) -> None:
        if self.path == "/start":
            self.send_response(302)
            self.send_header("Location", self.server.location)
            self.send_header("Content-Length", "0")
        else:
            self.server.followed.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "5")
        self.end_headers()
        if self.path != "/start":
            self.wfile.write(b"audio")

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the request lines (with their URLs) out of the test output."""


class _RedirectingServer(ThreadingHTTPServer):
    location = ""
    followed: list[str]


@pytest.fixture
def redirecting_server() -> Iterator[_RedirectingServer]:
    server = _RedirectingServer(("127.0.0.1", 0), _RedirectingHandler)
    server.followed = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_followed_redirect_is_masked_before_httpx_requests_and_logs_it(
    redirecting_server: _RedirectingServer, caplog: pytest.LogCaptureFixture
) -> None:
    host, port = redirecting_server.server_address[:2]
    origin = f"http://{host!s}:{port}"
    absolute, values = sigv2_url(f"{origin}/files")
    relative = absolute.removeprefix(origin)
    redirecting_server.location = relative  # relative, so the hook must resolve it too
    assert task_log_line(relative) == relative

    with (
        caplog.at_level(logging.INFO, logger="httpx"),
        httpx.Client(follow_redirects=True, event_hooks={"response": [mask_redirect_location]}) as client,
    ):
        answer = client.get(f"{origin}/start")

    assert answer.content == b"audio"
    assert redirecting_server.followed == [relative]  # followed, with the URL intact
    requests = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any(absolute in line for line in requests)  # httpx logged the redirected request
    for line in requests:
        masked = task_log_line(line)
        assert all(form not in masked for form in every_form(values))
    assert task_log_line(f"Location: {relative}") == "Location: ***"
    assert task_log_line(f"GET {absolute}") == "GET ***"
