"""A readable file object over an HTTP download that resumes where it broke off.

boto3's managed upload reads a non-seekable file object part by part, so this is the one piece
between an HTTP response and an S3 multipart upload: bytes are pulled from the network only as the
upload asks for them, and never land on disk.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import io
import logging
import random
import re
import socket
import threading
from typing import TYPE_CHECKING

import httpx

from airflow_assemblyai.archive.s3_options import KMS_ENCRYPTION
from airflow_assemblyai.exceptions import (
    AssemblyAIInvalidInputError,
    AssemblyAIRequestError,
    AssemblyAITransientError,
    RedactedAudioExpiredError,
    RedactedAudioIntegrityError,
)
from airflow_assemblyai.http_rules import RETRYABLE_STATUS_CODES

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from datetime import datetime

log = logging.getLogger(__name__)

#: File-host answers worth another attempt after a backoff.
#: S3 error codes that mean "the URL's credentials expired: mint a fresh URL" (400 or 403).
EXPIRY_CODES = frozenset({"ExpiredToken", "TokenRefreshRequired", "RequestExpired"})

_MD5_ETAG = re.compile(r"[0-9a-f]{32}")
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_XML_CODE = re.compile(rb"<Code>\s*([^<]{1,100}?)\s*</Code>")
_XML_MESSAGE = re.compile(rb"<Message>\s*([^<]{0,300}?)\s*</Message>")
#: An error body is read up to this many bytes for its XML code.
_ERROR_BODY_LIMIT = 16 * 1024
#: Server-side encryption modes under which an S3 ETag is not the MD5 of the bytes.


class _Interrupted(Exception):
    """A transient fault on the file host: reconnect (and maybe refresh the URL) and resume."""

    def __init__(self, reason: str, *, refresh_url: bool = False, backoff: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refresh_url = refresh_url
        self.backoff = backoff


class ResumableDownload(io.RawIOBase):
    """Read an HTTP download as a file, resuming with ``Range`` after a cut or an expired URL.

    ``read(n)`` returns exactly ``n`` bytes until the end of the file (a consumer such as
    s3transfer takes a short read for the end). Bytes are counted on the raw stream (no content
    decoding), so a resume asks for exactly the next byte.

    The first request asks for ``Range: bytes=0-``, so the total length is known from
    ``Content-Length`` (200) or from the total of ``Content-Range`` (206). A download whose length
    is unknown and whose ``ETag`` is not a plain MD5 cannot be verified and is refused at once. The
    read that reaches the end checks the byte count against the length and, when the ``ETag`` is a
    plain MD5, the MD5 computed while streaming; a mismatch raises
    :class:`RedactedAudioIntegrityError`, so an upload reading this object is aborted, not completed.

    A fresh URL is asked of ``fresh_url`` for the first request and whenever the file host says the
    URL's credentials expired: S3's XML error code is read on 400 and 403 alike (``ExpiredToken``,
    ``TokenRefreshRequired``, ``RequestExpired``, or ``AccessDenied`` "Request has expired"). From the
    second expiry in a row on, each refresh waits a backoff first. Any other 403 gets one fresh URL;
    refused again, it is final. A 404 means the file is gone. Connection attempts are bounded by
    ``max_attempts`` for the whole download, the first included. No message ever carries the URL.

    :meth:`cancel` stops the download from another thread (``on_kill``), waking a read that is
    blocked on the network.

    :param fresh_url: returns a newly minted (and already masked) URL of the file.
    :param client: a plain ``httpx.Client``; it must not carry API credentials.
    :param max_attempts: connection attempts for the whole download, the first included.
    :param retry_wait_initial: backoff scale in seconds between attempts (doubles, full jitter).
    :param retry_wait_max: longest backoff in seconds.
    :param chunk_size: bytes per step from the socket; None passes on what the network delivers,
        so a cut loses nothing already received.
    :param verify_md5: compare an MD5 of the bytes with a plain-MD5 ``ETag``.
    :param description: what is downloaded, for messages ("the redacted audio of transcript X").
    """

    def __init__(
        self,
        fresh_url: Callable[[], str],
        *,
        client: httpx.Client,
        max_attempts: int = 5,
        retry_wait_initial: float = 0.5,
        retry_wait_max: float = 10.0,
        chunk_size: int | None = None,
        verify_md5: bool = True,
        description: str = "the file",
    ) -> None:
        super().__init__()
        if max_attempts < 1:
            raise AssemblyAIInvalidInputError("max_attempts must be 1 or more.")
        self._fresh_url = fresh_url
        self._client = client
        self.max_attempts = max_attempts
        self.retry_wait_initial = retry_wait_initial
        self.retry_wait_max = retry_wait_max
        self.chunk_size = chunk_size
        self.verify_md5 = verify_md5
        self.description = description
        #: Total length of the file as the first answer announced it, if it did.
        self.length: int | None = None
        #: ``ETag`` of the first answer without quotes, if any.
        self.etag: str | None = None
        #: Whether the ``ETag`` is a plain MD5 of the bytes (and will be checked).
        self.etag_is_md5 = False
        #: ``Last-Modified`` of the first answer, if any.
        self.last_modified: datetime | None = None
        #: Connection attempts made so far.
        self.attempts = 0
        #: Times the download resumed after a fault.
        self.resumes = 0
        self._received = 0
        self._url: str | None = None
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._skip = 0
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._done = False
        self._announced = False
        self._last_fault = ""
        self._expiries_in_a_row = 0
        self._denials_in_a_row = 0
        self._cancelled = threading.Event()

    # -- file object protocol -----------------------------------------------------------------

    def readable(self) -> bool:
        """Return True: this is a readable stream."""
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Return exactly ``size`` bytes, fewer only at the end of the file; all that is left when < 0."""
        if size is None or size < 0:
            return self.readall()
        while self._pending_size < size and not self._done:
            self._pull()
        return self._take(size)

    def readall(self) -> bytes:
        """Return every byte left in the file."""
        while not self._done:
            self._pull()
        return self._take(self._pending_size)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill ``buffer`` as :meth:`read` would; return the number of bytes."""
        data = self.read(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def close(self) -> None:
        """Release the HTTP response (the client belongs to the caller)."""
        self._drop_response()
        self._pending.clear()
        self._pending_size = 0
        super().close()

    # -- extras for the caller ------------------------------------------------------------------

    def open(self) -> ResumableDownload:
        """Make the first request now, so ``length`` and ``etag`` are known; return self."""
        if self._response is None and not self._done:
            self._connect()
        return self

    def peek(self, size: int) -> bytes:
        """Return up to ``size`` bytes from the current position without consuming them."""
        while self._pending_size < size and not self._done:
            self._pull()
        return b"".join(self._pending)[:size]

    def cancel(self) -> None:
        """Stop the download from any thread: later reads raise, a read blocked on the network wakes.

        The connection is shut down at the socket, which is safe from another thread; the reading
        thread closes the response itself as it unwinds.
        """
        self._cancelled.set()
        response = self._response
        stream = response.extensions.get("network_stream") if response is not None else None
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    @property
    def cancelled(self) -> bool:
        """Return True once :meth:`cancel` was called."""
        return self._cancelled.is_set()

    @property
    def bytes_received(self) -> int:
        """Return the number of body bytes received from the network so far."""
        return self._received

    # -- internals ----------------------------------------------------------------------------

    def _take(self, size: int) -> bytes:
        """Remove and return the first ``size`` pending bytes (all of them if fewer)."""
        if size >= self._pending_size:
            data = b"".join(self._pending)
            self._pending.clear()
            self._pending_size = 0
            return data
        parts: list[bytes] = []
        need, used = size, 0
        while need:
            chunk = self._pending[used]
            if len(chunk) <= need:
                parts.append(chunk)
                need -= len(chunk)
                used += 1
            else:
                parts.append(chunk[:need])
                self._pending[used] = chunk[need:]
                need = 0
        del self._pending[:used]
        self._pending_size -= size
        return b"".join(parts)

    def _check_cancelled(self) -> None:
        if self._cancelled.is_set():
            self._drop_response()
            raise AssemblyAITransientError(
                f"The download of {self.description} was cancelled after {self._received} bytes "
                "(the task is being stopped)."
            )

    def _pull(self) -> None:
        """Append the next chunk from the network to the pending bytes, resuming after faults."""
        while True:
            self._check_cancelled()
            try:
                chunks = self._chunks if self._chunks is not None else self._connect()
                chunk = self._next_raw_chunk(chunks)
            except _Interrupted as fault:
                self._drop_response()
                self._check_cancelled()
                self._note_fault(fault)
                continue
            if chunk is None:
                self._drop_response()
                self._finish()
                return
            if chunk:
                self._pending.append(chunk)
                self._pending_size += len(chunk)
                return

    def _next_raw_chunk(self, chunks: Iterator[bytes]) -> bytes | None:
        """Return the next body bytes (b"" when a skipped prefix ate them), or None at the end."""
        try:
            chunk = next(chunks, None)
        except httpx.TransportError as exc:
            raise _Interrupted(f"{type(exc).__name__} after {self._received} bytes") from None
        if chunk is None:
            if self.length is not None and self._received < self.length:
                raise _Interrupted(f"body ended after {self._received} of {self.length} bytes")
            return None
        if self._skip:
            dropped = min(self._skip, len(chunk))
            self._skip -= dropped
            chunk = chunk[dropped:]
        self._received += len(chunk)
        if self.length is not None and self._received > self.length:
            raise RedactedAudioIntegrityError(
                f"The file host sent more bytes of {self.description} than it announced "
                f"({self._received} > {self.length}); the upload is aborted."
            )
        if self.verify_md5 and self.etag_is_md5:
            self._md5.update(chunk)
        return chunk

    def _connect(self) -> Iterator[bytes]:
        """Open a response at the next byte to receive, retrying within the attempt budget."""
        while True:
            self._check_cancelled()
            if self.attempts >= self.max_attempts:
                raise AssemblyAITransientError(
                    f"The download of {self.description} did not complete within {self.max_attempts} "
                    f"attempts ({self._received} of {self.length if self.length is not None else '?'} "
                    f"bytes received; last fault: {self._last_fault}). Retry the task later."
                )
            self.attempts += 1
            if self._url is None:
                self._url = self._fresh_url()
            # Always ranged: the first answer then states the total even without Content-Length.
            headers = {"Accept-Encoding": "identity", "Range": f"bytes={self._received}-"}
            try:
                request = self._client.build_request("GET", self._url, headers=headers)
                response = self._client.send(request, stream=True)
            except httpx.TransportError as exc:
                self._note_fault(_Interrupted(f"{type(exc).__name__} while connecting"))
                continue
            try:
                self._accept(response)
            except _Interrupted as fault:
                response.close()
                self._note_fault(fault)
                continue
            except BaseException:
                response.close()
                raise
            self._response = response
            self._chunks = response.iter_raw(self.chunk_size)
            # A cancel() that ran before the line above could not shut this connection: check again.
            self._check_cancelled()
            return self._chunks

    def _accept(self, response: httpx.Response) -> None:
        """Check an answer: record length and ETag on the first, check a resume against them."""
        code = response.status_code
        if code in (400, 403, 404):
            self._refused(response)
        if code in RETRYABLE_STATUS_CODES:
            raise _Interrupted(f"HTTP {code}")
        if code == 416:
            raise RedactedAudioIntegrityError(
                f"The file host has no bytes of {self.description} from offset {self._received} (HTTP 416); "
                "the file is shorter than announced."
            )
        if code not in (200, 206):
            raise AssemblyAIRequestError(
                f"The file host refused the download of {self.description} (HTTP {code}).", http_status=code
            )
        self._expiries_in_a_row = self._denials_in_a_row = 0
        etag = _plain_etag(response.headers.get("ETag"))
        total = None
        if code == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
            if match is None or int(match.group(1)) != self._received:
                raise RedactedAudioIntegrityError(
                    f"The file host answered a request for {self.description} from byte {self._received} "
                    "with the wrong range; the upload is aborted."
                )
            total = None if match.group(3) == "*" else int(match.group(3))
        else:
            total = _content_length(response)
        if not self._announced:
            self._first_answer(response, etag, total)
            if code == 200:
                self._skip = self._received
            return
        if etag and self.etag and etag != self.etag:
            raise RedactedAudioIntegrityError(
                f"{self.description} changed on the file host during the download (ETag {self.etag} became "
                f"{etag}); the upload is aborted."
            )
        if self.length is not None and total is not None and total != self.length:
            raise RedactedAudioIntegrityError(
                f"The length of {self.description} changed during the download ({self.length} became "
                f"{total}); the upload is aborted."
            )
        if code == 200:
            # A full answer even though a range was asked for: drop what was received already.
            self._skip = self._received

    def _refused(self, response: httpx.Response) -> None:
        """Judge a 400, 403 or 404 by S3's XML error: raise to refresh the URL, or a final error."""
        code = response.status_code
        s3_code, message = _s3_error(response)
        label = f"HTTP {code} {s3_code}".strip()
        expired = s3_code in EXPIRY_CODES or (
            code == 403 and s3_code in ("AccessDenied", "") and "expired" in message.lower()
        )
        if expired:
            self._expiries_in_a_row += 1
            self._denials_in_a_row = 0
            raise _Interrupted(
                f"{label}: the URL's credentials expired",
                refresh_url=True,
                backoff=self._expiries_in_a_row >= 2,
            )
        if code == 404:
            raise RedactedAudioExpiredError(
                f"The file host no longer has {self.description} ({label}): AssemblyAI keeps redacted audio "
                "for 24 hours after the transcript completes. Submit the audio again for a new one.",
                http_status=code,
                api_error=s3_code,
            )
        if code == 403 and self._denials_in_a_row == 0:
            self._denials_in_a_row += 1
            self._expiries_in_a_row = 0
            raise _Interrupted(f"{label} (refused; trying a fresh URL)", refresh_url=True, backoff=False)
        again = " even with a fresh URL" if code == 403 else ""
        raise AssemblyAIRequestError(
            f"The file host refused the download of {self.description} ({label}{again}"
            f"{': ' + message if message else ''}).",
            http_status=code,
            api_error=s3_code,
        )

    def _first_answer(self, response: httpx.Response, etag: str | None, total: int | None) -> None:
        self._announced = True
        self.length = total
        self.etag = etag
        encrypted = response.headers.get("x-amz-server-side-encryption", "").lower() in KMS_ENCRYPTION
        customer_key = "x-amz-server-side-encryption-customer-algorithm" in response.headers
        self.etag_is_md5 = bool(etag and _MD5_ETAG.fullmatch(etag)) and not (encrypted or customer_key)
        self.last_modified = _http_date(response.headers.get("Last-Modified"))
        if self.length is None and not (self.verify_md5 and self.etag_is_md5):
            raise RedactedAudioIntegrityError(
                f"The file host announced neither a length (Content-Length or a Content-Range total) nor "
                f"an MD5 ETag for {self.description}, so a cut-short copy could not be told from the whole "
                "file; nothing was archived. A task retry may get a better answer."
            )

    def _note_fault(self, fault: _Interrupted) -> None:
        self._last_fault = fault.reason
        if fault.refresh_url:
            self._url = None
        if self.attempts >= self.max_attempts:
            return
        self.resumes += 1
        wait = 0.0
        if fault.backoff:
            cap = min(self.retry_wait_max, self.retry_wait_initial * 2 ** (self.attempts - 1))
            wait = random.uniform(0, cap)
        log.warning(
            "Download of %s interrupted (%s); resuming at byte %d%s, attempt %d of %d in %.1f s.",
            self.description,
            fault.reason,
            self._received,
            " with a fresh URL" if fault.refresh_url else "",
            self.attempts + 1,
            self.max_attempts,
            wait,
        )
        if wait:
            self._cancelled.wait(wait)

    def _drop_response(self) -> None:
        if self._response is not None:
            self._response.close()
        self._response = None
        self._chunks = None

    def _finish(self) -> None:
        """Check the whole stream against what the server announced; mark the end of the file."""
        if self.length is not None and self._received != self.length:
            raise RedactedAudioIntegrityError(
                f"Received {self._received} bytes of {self.description} but the file host announced "
                f"{self.length}; the upload is aborted."
            )
        if self.verify_md5 and self.etag_is_md5:
            digest = self._md5.hexdigest()
            if digest != self.etag:
                raise RedactedAudioIntegrityError(
                    f"The MD5 of {self.description} ({digest}) differs from the ETag the file host "
                    f"announced ({self.etag}); the upload is aborted."
                )
        self._done = True


def _plain_etag(value: str | None) -> str | None:
    """Return an ETag without its weak prefix and quotes, lower-cased; None when absent."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"').lower() or None


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("Content-Length", "").strip()
    return int(value) if value.isdigit() else None


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _s3_error(response: httpx.Response) -> tuple[str, str]:
    """Return ``(Code, Message)`` of an S3 XML error body (empty strings when there is none)."""
    body = b""
    try:
        if response.is_stream_consumed:  # an answer built with its content already read
            body = response.content
        else:
            for chunk in response.iter_raw():
                body += chunk
                if len(body) >= _ERROR_BODY_LIMIT:
                    break
    except (httpx.HTTPError, httpx.StreamError):
        pass
    code, message = _XML_CODE.search(body), _XML_MESSAGE.search(body)
    return (
        code.group(1).decode("utf-8", "replace") if code else "",
        message.group(1).decode("utf-8", "replace") if message else "",
    )
