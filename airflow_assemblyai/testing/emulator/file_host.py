"""The file host: the redacted audio behind signed, expiring, S3-like URLs, and the uploaded files.

``GET /_files/{name}`` checks the URL's SigV2-style signature, session token and expiry as S3 would,
serves ``Range`` requests, refuses ``HEAD`` (a pre-signed GET URL is not signed for it) and plays the
file-host faults a test scripted (:class:`~airflow_assemblyai.testing.emulator.faults.Faults`).
``GET /_uploads/{id}`` serves what ``POST /v2/upload`` stored.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from email.utils import formatdate
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from airflow_assemblyai.testing.emulator.state import emulator_of

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from airflow_assemblyai.testing.emulator.state import EmulatorState, TranscriptRecord


S3_EXPIRED = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
S3_DENIED = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
#: S3 error codes the file host can be scripted to answer, with their status and a message.
S3_ERRORS: dict[str, tuple[int, str]] = {
    "ExpiredToken": (400, "The security token of this request has expired."),
    "TokenRefreshRequired": (400, "The security token of this request must be refreshed."),
    "RequestExpired": (400, "This request is past its expiry time."),
    "AccessDenied": (403, "Access Denied"),
    "SignatureDoesNotMatch": (403, "The signature of this request is not valid."),
    "NoSuchKey": (404, "The key does not exist."),
    "InternalError": (500, "Internal error, try again."),
}
#: Codes after which the URL's session token stays dead: only a freshly minted URL works.
S3_TOKEN_EXPIRY_CODES = frozenset({"ExpiredToken", "TokenRefreshRequired", "RequestExpired"})
HTML_ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>Bad Gateway</h1><p>The proxy could not reach the file host.</p></body></html>"
)
#: Bytes per step of a slow body (``Faults.slow_body_after``).
SLOW_CHUNK = 64 * 1024
S3_TWO_AUTHS = (
    "<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; only the "
    "X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header "
    "should be specified</Message></Error>"
)
CHUNK = 256 * 1024


router = APIRouter()


@router.get("/_uploads/{upload_id}")
async def uploaded(upload_id: str, request: Request) -> Response:
    """Serve an uploaded file at the ``upload_url`` that ``POST /v2/upload`` answered."""
    path = emulator_of(request).uploads.get(upload_id)
    if path is None:
        return Response(status_code=404)
    return Response(path.read_bytes(), media_type="application/octet-stream")


@router.head("/_files/{name}")
async def head_file(name: str) -> Response:
    """Refuse ``HEAD``, as S3 does for a URL pre-signed for ``GET``."""
    return Response(status_code=403, media_type="application/xml")


@router.get("/_files/{name}")
async def download(name: str, request: Request) -> Response:
    """Serve a redacted file to a valid, unexpired signed URL (whole, or the ``Range`` asked for)."""
    return _download(emulator_of(request), name, request)


def sign(state: EmulatorState, name: str, expires: int, token: str) -> str:
    """Return a SigV2-style signature: base64 of an HMAC-SHA1 over the request's parts."""
    message = f"GET\n\n\n{expires}\nx-amz-security-token:{token}\n/redacted-audio/{name}".encode()
    return base64.b64encode(hmac.new(state.secret, message, hashlib.sha1).digest()).decode()


def mint_url(state: EmulatorState, record: TranscriptRecord) -> str:
    """Return a pre-signed URL shaped like AssemblyAI's: SigV2, encoded base64, a session token."""
    state.render(record)
    ttl = record.faults.url_ttl_seconds
    if record.faults.expired_urls > 0:
        record.faults.expired_urls -= 1
        ttl = -60
    expires = int(time.time() + ttl)
    name = record.file.name if record.file else ""
    while True:
        # A token whose signature holds "+" and "/" (its "=" is always there), so every URL
        # carries %2B, %2F and %3D, as the real ones often do.
        token = base64.b64encode(secrets.token_bytes(47)).decode()
        signature = sign(state, name, expires, token)
        if "+" in signature and "/" in signature:
            break
    return (
        f"{state.base_url}/_files/{name}?AWSAccessKeyId=ASIAEMULATOREXAMPLE&Signature="
        f"{quote(signature, safe='')}&x-amz-security-token={quote(token, safe='')}&Expires={expires}"
    )


def _download(state: EmulatorState, name: str, request: Request) -> Response:
    """Answer a download as S3 would: check auth, signature, token and expiry, then play the faults."""
    query = request.query_params
    with state.lock:
        if "authorization" in request.headers:
            state.violations.append(f"Authorization header sent to the file host for {name}")
            return Response(S3_TWO_AUTHS, status_code=400, media_type="application/xml")
        record = next((r for r in state.transcripts.values() if r.file and r.file.name == name), None)
        try:
            expires = int(query.get("Expires", ""))
        except ValueError:
            expires = 0
        token = query.get("x-amz-security-token", "")
        # Starlette has decoded %2B, %2F and %3D: the signature is checked in its decoded form.
        valid = hmac.compare_digest(query.get("Signature", ""), sign(state, name, expires, token))
        if record is None or record.file is None:
            return Response(S3_DENIED, status_code=403, media_type="application/xml")
        if not valid:
            return _s3_error("SignatureDoesNotMatch")
        if token in state.dead_tokens:
            return _s3_error(state.dead_tokens[token])
        if expires < time.time():
            return Response(S3_EXPIRED, status_code=403, media_type="application/xml")
        faults = record.faults
        if faults.download_statuses:
            return Response(status_code=faults.download_statuses.pop(0))
        if faults.redirect_downloads > 0:
            faults.redirect_downloads -= 1
            return Response(status_code=307, headers={"Location": mint_url(state, record)})
        size = record.file.stat().st_size
        range_header = request.headers.get("range")
        parsed = _parse_range(range_header, size) if range_header else None
        if faults.download_errors or (parsed and parsed[0] > 0 and faults.resume_errors):
            code = (faults.download_errors or faults.resume_errors).pop(0)
            if code in S3_TOKEN_EXPIRY_CODES:
                state.dead_tokens[token] = code
            return _s3_error(code)
        if faults.substitute_body is not None:
            body = HTML_ERROR_PAGE if faults.substitute_body == "html" else b""
            media = "text/html" if faults.substitute_body == "html" else "binary/octet-stream"
            return Response(body, status_code=200, media_type=media)
        cut: int | None = None
        if faults.cut_download_after is not None and faults.cut_downloads > 0:
            faults.cut_downloads -= 1
            cut = faults.cut_download_after
        short: int | None = None
        if faults.short_body_after is not None and faults.short_bodies > 0:
            faults.short_bodies -= 1
            short = faults.short_body_after
        path, etag, tid = record.file, _etag(record), record.id
        modified = path.stat().st_mtime - (faults.file_age_seconds or 0.0)
        slow: tuple[int, float] | None = None
        if faults.slow_body_after is not None:
            slow = (faults.slow_body_after, faults.slow_body_delay)
        unknown_length = faults.unknown_length
    if range_header and parsed is None and not unknown_length:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    start, end, status = 0, size - 1, 200
    if parsed is not None and not unknown_length:
        (start, end), status = parsed, 206
    headers = {"Accept-Ranges": "bytes", "Last-Modified": formatdate(modified, usegmt=True)}
    if etag:
        headers["ETag"] = f'"{etag}"'
    if not unknown_length:
        headers["Content-Length"] = str(end - start + 1)
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"

    def count(sent: int) -> None:
        with state.lock:
            state.served[tid] = state.served.get(tid, 0) + sent

    return StreamingResponse(
        iter_file(path, start, end + 1, cut=cut, short=short, slow=slow, count=count),
        status_code=status,
        headers=headers,
        media_type="binary/octet-stream",
    )


def _etag(record: TranscriptRecord) -> str:
    """Return the ETag the file host sends, in the style the record's faults ask for ("" for none)."""
    style = record.faults.etag_style
    if style == "none":
        return ""
    if style == "multipart":
        size = record.file.stat().st_size if record.file else 0
        return f"{record.etag}-{max(1, -(-size // (8 * 1024 * 1024)))}"
    return record.etag


class _CutConnection(Exception):
    """Raised inside a response body to drop the connection mid-stream."""


async def iter_file(
    path: Path,
    start: int,
    stop: int,
    *,
    cut: int | None = None,
    short: int | None = None,
    slow: tuple[int, float] | None = None,
    count: Callable[[int], None] | None = None,
) -> AsyncIterator[bytes]:
    """Yield ``path[start:stop]``: dropped after ``cut`` bytes, ended early after ``short``, slowed."""
    sent = 0
    with path.open("rb") as handle:
        handle.seek(start)
        position = start
        while position < stop:
            size = min(CHUNK, stop - position)
            if slow is not None and position >= slow[0]:
                size = min(size, SLOW_CHUNK)
                await asyncio.sleep(slow[1])
            elif slow is not None:
                size = min(size, slow[0] - position)
            for limit in (cut, short):
                if limit is not None:
                    size = min(size, max(0, limit - sent))
            if cut is not None and sent >= cut:
                raise _CutConnection
            if short is not None and sent >= short:
                return
            chunk = handle.read(size)
            if not chunk:
                break
            position += len(chunk)
            sent += len(chunk)
            if count is not None:
                count(len(chunk))
            yield chunk


def _s3_error(code: str) -> Response:
    """Answer an S3 XML error with the status that goes with ``code``."""
    status, message = S3_ERRORS.get(code, (400, "Scripted error."))
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return Response(body, status_code=status, media_type="application/xml")


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Return the (first, last) bytes of a single ``Range`` header, or None when it cannot be served."""
    if not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[len("bytes=") :].partition("-")
    try:
        if first == "":
            length = int(last)
            return (max(0, size - length), size - 1) if length > 0 else None
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)
