"""The one place that talks to the AssemblyAI v2 API, synchronously and asynchronously."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

import httpx
import tenacity
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from airflow_assemblyai import __version__
from airflow_assemblyai.exceptions import (
    AssemblyAIAuthError,
    AssemblyAIInvalidInputError,
    AssemblyAIRequestError,
    AssemblyAITransientError,
    AssemblyAIUnexpectedResponseError,
    RedactionNotRequestedError,
    SpeechModelRejectedError,
    TranscriptNotFoundError,
)
from airflow_assemblyai.hooks.settings import ConnectionSettings, parse_speech_models, read_settings
from airflow_assemblyai.http_rules import RETRYABLE_STATUS_CODES, retry_after_seconds
from airflow_assemblyai.ids import validate_transcript_id
from airflow_assemblyai.masking import mask_url, mask_urls_in
from airflow_assemblyai.redaction import (
    NOT_FOUND_TEXT,
    RedactedAudio,
    RedactionPoll,
    audio_format_of,
    judge_redacted_audio_answer,
    judge_transcript,
    missing_redacted_audio_error,
)

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Callable, Iterator, Sequence

    from airflow.sdk import ObjectStoragePath

#: Subtitle formats AssemblyAI exports (``GET /v2/transcript/{id}/srt`` and ``/vtt``).
SUBTITLE_FORMATS = ("srt", "vtt")
UPLOAD_CHUNK_SIZE = 1024 * 1024
#: Most rows ``GET /v2/transcript`` returns per page (AssemblyAI's API spec: ``limit`` 1 to 200).
MAX_LIST_LIMIT = 200
#: Statuses ``GET /v2/transcript`` can filter on.
LIST_STATUSES = ("queued", "processing", "completed", "error")

#: Errors after which nothing reached the server, so even a POST may be sent again.
_NOTHING_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class _RetryableStatus(Exception):
    """A 408, 429 or 5xx answer, raised inside the retry loop only."""

    def __init__(self, status_code: int, retry_after: float | None, api_error: str) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.retry_after = retry_after
        self.api_error = api_error


@dataclass(frozen=True)
class _Call:
    """One API request, described once and sent by either the sync or the async client."""

    method: str
    path: str
    #: Whether the request may be repeated after it reached the server (GET, DELETE).
    idempotent: bool
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    #: Builds a fresh body for each attempt (uploads), so a retry never sends a half-read stream.
    body_factory: Callable[[], Iterator[bytes]] | None = field(default=None, repr=False)
    #: Status codes handed back to the caller instead of raising (e.g. the redacted-audio 400s).
    passthrough: frozenset[int] = frozenset()
    transcript_id: str | None = None


def _api_error_text(response: httpx.Response) -> str:
    """Return the ``error`` text of an AssemblyAI error body (or a short excerpt), URLs masked.

    Every message, log line and attribute built from an answer's text goes through here, so a URL
    it names (a pre-signed ``audio_url``, say) is cut to its origin before it goes anywhere.
    """
    try:
        body = response.json()
    except ValueError:
        return mask_urls_in(response.text[:200].strip())
    if isinstance(body, dict) and body.get("error"):
        return mask_urls_in(str(body["error"]))
    return ""


def mask_presigned_url(url: str) -> None:
    """Mask a pre-signed URL, and every one of its query values, in every Airflow log.

    Each value is registered as it stands in the URL (a base64 signature keeps its ``%2B``, ``%2F``
    and ``%3D``), decoded, and encoded again in full, and the URL as httpx prints it too, so a log
    line holding any of these forms prints ``***``. Airflow's masker itself leaves out values
    shorter than ``[logging] min_length_masked_secret``.
    """
    for secret in _presigned_url_forms(url):
        mask_secret(secret)


def mask_redirect_location(response: httpx.Response) -> None:
    """Mask the ``Location`` an answer points to, as a pre-signed URL; an httpx response event hook.

    A client that follows redirects sends its next request to that URL, and httpx logs it; wire
    this as ``event_hooks={"response": [mask_redirect_location]}`` so the URL is masked first.
    """
    location = response.headers.get("Location")
    if not location:
        return
    mask_presigned_url(location)
    absolute = str(response.request.url.join(location))
    if absolute != location:
        mask_presigned_url(absolute)


def _presigned_url_forms(url: str) -> set[str]:
    """Return ``url``, its httpx form, and each query value raw, decoded and fully encoded."""
    try:
        as_sent = str(httpx.URL(url))
    except httpx.InvalidURL:
        as_sent = url
    forms = {url, as_sent}
    for text in (url, as_sent):
        for pair in urlsplit(text).query.split("&"):
            raw = pair.partition("=")[2]
            if not raw:
                continue
            decoded = unquote_plus(raw)
            forms.update((raw, unquote(raw), decoded, quote(decoded, safe=""), quote_plus(decoded, safe="")))
    return forms


class AssemblyAIHook(BaseHook):
    """Talk to the AssemblyAI v2 API, with one retry policy for sync and async calls.

    The connection's password is the API key; its host, when set, is the base URL (the emulator's
    ``http://127.0.0.1:PORT``, say); otherwise the extra ``region`` (``us`` or ``eu``) picks it. The
    extra ``speech_models`` sets the model chain of every submission that names none. The connection
    is read once, on first use, into :attr:`settings`.

    Passing faults (429 honouring ``Retry-After``, 408/500/502/503/504, timeouts, dropped connections)
    are retried with exponential backoff and jitter, ``max_attempts`` in all. ``POST`` requests
    (submit, upload) are retried only when nothing reached the server (connect errors) or on 429.
    Everything else (401, 403, 404, other 400s) raises a final error at once.

    :param assemblyai_conn_id: Airflow connection id of type ``assemblyai``.
    The retry budget comes from the arguments below, else from the connection's extra fields of the
    same names, else from the defaults (5 attempts, 1 s first backoff, 60 s cap).

    :param max_attempts: attempts per request, the first included.
    :param retry_wait_initial: backoff scale in seconds (doubles each attempt, full jitter).
    :param retry_wait_max: longest backoff and longest ``Retry-After`` honoured, in seconds.
    :param timeout: httpx timeout (seconds, or an ``httpx.Timeout``).
    """

    conn_name_attr = "assemblyai_conn_id"
    default_conn_name = "assemblyai_default"
    conn_type = "assemblyai"
    hook_name = "AssemblyAI"

    def __init__(
        self,
        assemblyai_conn_id: str = default_conn_name,
        *,
        max_attempts: int | None = None,
        retry_wait_initial: float | None = None,
        retry_wait_max: float | None = None,
        timeout: float | httpx.Timeout | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.assemblyai_conn_id = assemblyai_conn_id
        self._retry_overrides: dict[str, float | None] = {
            "max_attempts": max_attempts,
            "retry_wait_initial": retry_wait_initial,
            "retry_wait_max": retry_wait_max,
        }
        self._settings: ConnectionSettings | None = None
        self.timeout = (
            timeout
            if isinstance(timeout, httpx.Timeout)
            else httpx.Timeout(timeout if timeout is not None else 60.0, connect=10.0)
        )
        self._async_client: httpx.AsyncClient | None = None

    # -- connection -------------------------------------------------------------------------

    @property
    def settings(self) -> ConnectionSettings:
        """Return the connection's settings, reading the connection on first use."""
        if self._settings is None:
            conn = self.get_connection(self.assemblyai_conn_id)
            self._settings = read_settings(
                self.assemblyai_conn_id, conn, conn.extra_dejson, self._retry_overrides
            )
            self._settings_read(self._settings)
        return self._settings

    async def aget_settings(self) -> ConnectionSettings:
        """Return the connection's settings, reading the connection without blocking the event loop."""
        if self._settings is None:
            from airflow.providers.common.compat.connection import (
                get_async_connection,
                get_async_extra_dejson,
            )

            conn = await get_async_connection(self.assemblyai_conn_id, hook=self)
            extra = await get_async_extra_dejson(conn)
            self._settings = read_settings(self.assemblyai_conn_id, conn, extra, self._retry_overrides)
            self._settings_read(self._settings)
        return self._settings

    def _settings_read(self, settings: ConnectionSettings) -> None:
        """Mask the API key in every log; warn when it is about to travel unencrypted."""
        mask_secret(settings.api_key)
        if settings.insecure_http:
            self.log.warning(
                "Connection %r: Host %s is plain http to a host that is not loopback, allowed by its "
                "extra field allow_insecure_http: the API key crosses the network unencrypted in every "
                "request. Use https:// unless this network is trusted.",
                self.assemblyai_conn_id,
                mask_url(settings.base_url),
            )

    @property
    def max_attempts(self) -> int:
        """Return the attempts per request, the first included."""
        return self.settings.max_attempts

    @property
    def retry_wait_initial(self) -> float:
        """Return the backoff scale in seconds."""
        return self.settings.retry_wait_initial

    @property
    def retry_wait_max(self) -> float:
        """Return the longest backoff (and longest ``Retry-After`` honoured) in seconds."""
        return self.settings.retry_wait_max

    def _client_kwargs(self, settings: ConnectionSettings) -> dict[str, Any]:
        return {
            "verify": _shared_ssl_context(),
            "base_url": settings.base_url,
            "headers": {
                "Authorization": settings.api_key,
                "User-Agent": f"airflow-provider-assemblyai/{__version__} httpx/{httpx.__version__}",
            },
            "timeout": self.timeout,
            "follow_redirects": False,
        }

    @property
    def base_url(self) -> str:
        """Return the API base URL the connection selects."""
        return self.settings.base_url

    def get_conn(self) -> httpx.Client:
        """Return the pooled ``httpx.Client`` of this hook, built on first use."""
        return self._client

    @cached_property
    def _client(self) -> httpx.Client:
        return httpx.Client(**self._client_kwargs(self.settings))

    async def aget_conn(self) -> httpx.AsyncClient:
        """Return the pooled ``httpx.AsyncClient``, reading the connection without blocking the loop."""
        if self._async_client is None:
            self._async_client = httpx.AsyncClient(**self._client_kwargs(await self.aget_settings()))
        return self._async_client

    def close(self) -> None:
        """Close the sync client, if it was built."""
        if "_client" in self.__dict__:
            self.__dict__.pop("_client").close()

    async def aclose(self) -> None:
        """Close the async client, if it was built."""
        if self._async_client is not None:
            client, self._async_client = self._async_client, None
            await client.aclose()

    # -- retry policy -------------------------------------------------------------------------

    def _is_retryable(self, call: _Call) -> Callable[[BaseException], bool]:
        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, _RetryableStatus):
                return call.idempotent or exc.status_code == 429
            if isinstance(exc, _NOTHING_SENT_ERRORS):
                return True
            return call.idempotent and isinstance(exc, httpx.TransportError)

        return retryable

    @staticmethod
    def _wait_seconds(settings: ConnectionSettings) -> Callable[[tenacity.RetryCallState], float]:
        backoff = tenacity.wait_random_exponential(
            multiplier=settings.retry_wait_initial, max=settings.retry_wait_max
        )

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _RetryableStatus) and exc.retry_after is not None:
                return min(exc.retry_after, settings.retry_wait_max)
            return float(backoff(state))

        return wait

    def _log_retry(self, call: _Call, attempts: int) -> Callable[[tenacity.RetryCallState], None]:
        def log(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            self.log.warning(
                "AssemblyAI %s %s failed (%s), attempt %d of %d; retrying in %.1f s",
                call.method,
                call.path,
                _describe(exc),
                state.attempt_number,
                attempts,
                wait,
            )

        return log

    def _retry_kwargs(self, call: _Call, settings: ConnectionSettings) -> dict[str, Any]:
        return {
            "stop": tenacity.stop_after_attempt(settings.max_attempts),
            "wait": self._wait_seconds(settings),
            "retry": tenacity.retry_if_exception(self._is_retryable(call)),
            "before_sleep": self._log_retry(call, settings.max_attempts),
            "reraise": True,
        }

    def _transient_error(self, call: _Call, exc: BaseException) -> AssemblyAITransientError:
        detail = _describe(exc)
        if isinstance(exc, _RetryableStatus) and exc.api_error:
            detail = f"{detail}: {exc.api_error}"
        # Name the URL tried (userinfo and query masked): a wrong Host shows here, not just "retry later".
        base = mask_url(self._settings.base_url) if self._settings is not None else ""
        return AssemblyAITransientError(
            f"AssemblyAI {call.method} {base}{call.path} did not succeed ({detail}); gave up after the "
            "hook's retry budget. This is usually transient (rate limit, outage, network): retry later; "
            "if it persists, check the connection's Host."
        )

    # -- sending --------------------------------------------------------------------------------

    def _check(self, call: _Call, response: httpx.Response) -> httpx.Response:
        """Return the response if it is a success or passes through; raise the right error otherwise."""
        code = response.status_code
        if code < 400 or code in call.passthrough:
            return response
        api_error = _api_error_text(response)
        if code in RETRYABLE_STATUS_CODES:
            raise _RetryableStatus(code, retry_after_seconds(response.headers.get("Retry-After")), api_error)
        raise self._final_error(call, code, api_error)

    def _final_error(self, call: _Call, code: int, api_error: str) -> AssemblyAIRequestError:
        where = f"AssemblyAI {call.method} {call.path}"
        if code in (401, 403):
            return AssemblyAIAuthError(
                f"{where} was refused (HTTP {code}: {api_error or 'no reason given'}). Check the API key "
                f"in the password of connection {self.assemblyai_conn_id!r}.",
                http_status=code,
                api_error=api_error,
            )
        if call.transcript_id and (code == 404 or api_error.strip() == NOT_FOUND_TEXT):
            return TranscriptNotFoundError(
                f"{where}: AssemblyAI does not know transcript {call.transcript_id} "
                f"({api_error or f'HTTP {code}'}). Check the id and the connection's region.",
                http_status=code,
                api_error=api_error,
            )
        if call.path == "/v2/transcript" and "speech_model" in api_error.replace(" ", "_").lower():
            return SpeechModelRejectedError(
                f"{where} was rejected (HTTP {code}): {api_error} Change speech_models on the transcribe "
                f"task, or the default of connection {self.assemblyai_conn_id!r} (extra field "
                "'speech_models'); docs/models.md#models lists the current choices.",
                http_status=code,
                api_error=api_error,
            )
        return AssemblyAIRequestError(
            f"{where} was rejected (HTTP {code}): {api_error or 'no reason given'}",
            http_status=code,
            api_error=api_error,
        )

    def _send(self, call: _Call) -> httpx.Response:
        client = self.get_conn()

        def attempt() -> httpx.Response:
            content = call.body_factory() if call.body_factory else None
            response = client.request(
                call.method, call.path, json=call.json, params=call.params, content=content
            )
            return self._check(call, response)

        try:
            return tenacity.Retrying(**self._retry_kwargs(call, self.settings))(attempt)
        except (_RetryableStatus, httpx.TransportError) as exc:
            raise self._transient_error(call, exc) from None

    async def _asend(self, call: _Call) -> httpx.Response:
        client = await self.aget_conn()

        async def attempt() -> httpx.Response:
            content = _to_async_iter(call.body_factory) if call.body_factory else None
            response = await client.request(
                call.method, call.path, json=call.json, params=call.params, content=content
            )
            return self._check(call, response)

        try:
            return await tenacity.AsyncRetrying(**self._retry_kwargs(call, await self.aget_settings()))(
                attempt
            )
        except (_RetryableStatus, httpx.TransportError) as exc:
            raise self._transient_error(call, exc) from None

    @staticmethod
    def _json(call: _Call, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise AssemblyAIUnexpectedResponseError(
                f"AssemblyAI {call.method} {call.path} answered HTTP {response.status_code} with a body "
                "that is not a JSON object."
            )
        return body

    # -- the calls, described once --------------------------------------------------------------

    @staticmethod
    def _submit_call(audio_url: str, params: dict[str, Any], default_models: Sequence[str]) -> _Call:
        """Describe a submission: ``speech_models`` from ``params``, else ``default_models``."""
        payload = submission_payload(audio_url, params)
        payload.setdefault("speech_models", list(default_models))
        return _Call("POST", "/v2/transcript", idempotent=False, json=payload)

    @staticmethod
    def _transcript_call(method: str, transcript_id: str, suffix: str = "") -> _Call:
        transcript_id = validate_transcript_id(transcript_id)
        passthrough = frozenset({400, 404}) if suffix == "/redacted-audio" else frozenset()
        return _Call(
            method,
            f"/v2/transcript/{transcript_id}{suffix}",
            idempotent=True,
            passthrough=passthrough,
            transcript_id=transcript_id,
        )

    @staticmethod
    def _list_page_call(limit: int, status: str | None, before_id: str | None, after_id: str | None) -> _Call:
        """Describe one page of ``GET /v2/transcript``; raise on a bad argument before any request."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_LIMIT:
            raise AssemblyAIInvalidInputError(
                f"limit must be a whole number from 1 to {MAX_LIST_LIMIT} (AssemblyAI's maximum), "
                f"got {limit!r}."
            )
        if status is not None and status not in LIST_STATUSES:
            raise AssemblyAIInvalidInputError(
                f"status must be one of {', '.join(LIST_STATUSES)} or None, got {status!r}."
            )
        params: dict[str, Any] = {"limit": limit}
        if status is not None:
            params["status"] = status
        if before_id is not None:
            params["before_id"] = validate_transcript_id(before_id, field="before_id")
        if after_id is not None:
            params["after_id"] = validate_transcript_id(after_id, field="after_id")
        return _Call("GET", "/v2/transcript", idempotent=True, params=params)

    @staticmethod
    def _subtitles_call(transcript_id: str, subtitle_format: str, chars_per_caption: int | None) -> _Call:
        if subtitle_format not in SUBTITLE_FORMATS:
            raise AssemblyAIInvalidInputError(
                f"subtitle format {subtitle_format!r} is not one AssemblyAI exports: use 'srt' or 'vtt'."
            )
        if chars_per_caption is not None and (
            isinstance(chars_per_caption, bool)
            or not isinstance(chars_per_caption, int)
            or chars_per_caption < 1
        ):
            raise AssemblyAIInvalidInputError(
                f"chars_per_caption must be a positive whole number of characters, got {chars_per_caption!r}."
            )
        call = AssemblyAIHook._transcript_call("GET", transcript_id, f"/{subtitle_format}")
        if chars_per_caption is None:
            return call
        return dataclasses.replace(call, params={"chars_per_caption": chars_per_caption})

    @staticmethod
    def _upload_call(source: str | os.PathLike[str] | ObjectStoragePath, chunk_size: int) -> _Call:
        opener = _opener_for(source)

        def body() -> Iterator[bytes]:
            with opener() as handle:
                while chunk := handle.read(chunk_size):
                    yield chunk

        return _Call("POST", "/v2/upload", idempotent=False, body_factory=body)

    def _redacted_audio_from(self, call: _Call, response: httpx.Response) -> RedactedAudio:
        body = self._json(call, response) if response.content else {}
        result = judge_redacted_audio_answer(call.transcript_id or "", response.status_code, body)
        if result.url:
            mask_presigned_url(result.url)
        return result

    # -- sync API ---------------------------------------------------------------------------------

    def submit_transcript(self, audio_url: str, **params: Any) -> dict[str, Any]:
        """Submit ``audio_url`` for transcription with ``params`` (``redact_pii*`` and others); return it.

        Without ``speech_models`` in ``params`` the connection's default chain is sent (extra
        ``speech_models``, else :data:`~airflow_assemblyai.hooks.settings.DEFAULT_SPEECH_MODELS`).
        """
        call = self._submit_call(audio_url, params, self.settings.default_speech_models)
        return self._json(call, self._send(call))

    def upload_file(
        self, source: str | os.PathLike[str] | ObjectStoragePath, *, chunk_size: int = UPLOAD_CHUNK_SIZE
    ) -> str:
        """Stream a local or object-storage file to AssemblyAI; return its ``upload_url``."""
        call = self._upload_call(source, chunk_size)
        return _upload_url(self._json(call, self._send(call)))

    def get_transcript(self, transcript_id: str) -> dict[str, Any]:
        """Return the transcript ``transcript_id``."""
        call = self._transcript_call("GET", transcript_id)
        return self._json(call, self._send(call))

    def get_redacted_audio(self, transcript_id: str) -> RedactedAudio:
        """Ask for the redacted audio: ready with a fresh (masked) URL, or pending; raise when final."""
        call = self._transcript_call("GET", transcript_id, "/redacted-audio")
        try:
            return self._redacted_audio_from(call, self._send(call))
        except RedactionNotRequestedError as exc:  # asked for, or not? The transcript says.
            transcript = self.get_transcript(transcript_id)
            raise missing_redacted_audio_error(
                transcript_id, transcript, exc, conn_id=self.assemblyai_conn_id
            ) from None

    def get_subtitles(
        self, transcript_id: str, subtitle_format: str, *, chars_per_caption: int | None = None
    ) -> bytes:
        """Return the transcript's subtitles (``srt`` or ``vtt``) exactly as AssemblyAI serves them.

        :param chars_per_caption: the longest caption in characters; AssemblyAI's default when None.
        """
        call = self._subtitles_call(transcript_id, subtitle_format, chars_per_caption)
        return self._send(call).content

    def poll_redacted_audio(self, transcript_id: str) -> RedactionPoll:
        """Poll once: read the transcript, then (when completed) its redacted audio; return the verdict."""
        transcript = self.get_transcript(transcript_id)
        verdict = judge_transcript(transcript_id, transcript)
        if verdict is not None:
            return verdict
        return _poll_verdict(self.get_redacted_audio(transcript_id), transcript)

    def delete_transcript(self, transcript_id: str) -> dict[str, Any]:
        """Delete the transcript's data at AssemblyAI; return what it answers."""
        call = self._transcript_call("DELETE", transcript_id)
        return self._json(call, self._send(call))

    def list_transcripts(self, limit: int = 1) -> dict[str, Any]:
        """Return the newest ``limit`` transcripts of the account (see :meth:`list_transcript_page`)."""
        return self.list_transcript_page(limit=limit)

    def list_transcript_page(
        self,
        *,
        limit: int = MAX_LIST_LIMIT,
        status: str | None = None,
        before_id: str | None = None,
        after_id: str | None = None,
    ) -> dict[str, Any]:
        """Return one page of the account's transcripts, newest first (``transcripts``, ``page_details``).

        :param limit: rows per page, 1 to :data:`MAX_LIST_LIMIT`.
        :param status: only transcripts in this status (``queued``, ``processing``, ``completed``, ``error``).
        :param before_id: only transcripts older than this one (the next page down).
        :param after_id: only transcripts newer than this one.
        """
        call = self._list_page_call(limit, status, before_id, after_id)
        return self._json(call, self._send(call))

    def test_connection(self) -> tuple[bool, str]:
        """Check the key and the host by listing one transcript; never raise.

        A connection the hook refuses to use (a Host without a scheme, plain http to a host that is
        not loopback) fails the test with the reason, before any request.
        """
        try:
            self.list_transcripts(limit=1)
        except AssemblyAIInvalidInputError as exc:
            return False, str(exc)
        except AssemblyAIAuthError:
            return False, "AssemblyAI refused the API key (check the connection's password)."
        except AssemblyAITransientError as exc:
            return False, f"AssemblyAI could not be reached: {exc}"
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"
        if self.settings.insecure_http:
            return True, (
                f"Connected to AssemblyAI at {mask_url(self.base_url)} over plain http "
                "(allow_insecure_http is set): the API key travels unencrypted."
            )
        return True, f"Connected to AssemblyAI at {mask_url(self.base_url)}."

    # -- async API (same calls, same policy) -------------------------------------------------------

    async def asubmit_transcript(self, audio_url: str, **params: Any) -> dict[str, Any]:
        """Submit a transcript; the async twin of :meth:`submit_transcript`."""
        settings = await self.aget_settings()
        call = self._submit_call(audio_url, params, settings.default_speech_models)
        return self._json(call, await self._asend(call))

    async def aupload_file(
        self, source: str | os.PathLike[str] | ObjectStoragePath, *, chunk_size: int = UPLOAD_CHUNK_SIZE
    ) -> str:
        """Stream a file to AssemblyAI; the async twin of :meth:`upload_file`."""
        call = self._upload_call(source, chunk_size)
        return _upload_url(self._json(call, await self._asend(call)))

    async def aget_transcript(self, transcript_id: str) -> dict[str, Any]:
        """Return a transcript; the async twin of :meth:`get_transcript`."""
        call = self._transcript_call("GET", transcript_id)
        return self._json(call, await self._asend(call))

    async def aget_redacted_audio(self, transcript_id: str) -> RedactedAudio:
        """Ask for the redacted audio; the async twin of :meth:`get_redacted_audio`."""
        call = self._transcript_call("GET", transcript_id, "/redacted-audio")
        try:
            return self._redacted_audio_from(call, await self._asend(call))
        except RedactionNotRequestedError as exc:
            transcript = await self.aget_transcript(transcript_id)
            raise missing_redacted_audio_error(
                transcript_id, transcript, exc, conn_id=self.assemblyai_conn_id
            ) from None

    async def ais_redacted_audio_ready(self, transcript_id: str) -> bool:
        """Return whether the redacted audio is ready; raise when final. The URL is dropped unread.

        For a wait that needs only the answer: the URL is never kept, returned or logged, so it is
        not handed to Airflow's log masker, which compiles one pattern of every secret on each
        addition; a triggerer masking a URL per ready transcript would stall its event loop.
        """
        call = self._transcript_call("GET", transcript_id, "/redacted-audio")
        response = await self._asend(call)
        body = self._json(call, response) if response.content else {}
        try:
            return judge_redacted_audio_answer(transcript_id, response.status_code, body).ready
        except RedactionNotRequestedError as exc:
            transcript = await self.aget_transcript(transcript_id)
            raise missing_redacted_audio_error(
                transcript_id, transcript, exc, conn_id=self.assemblyai_conn_id
            ) from None

    async def aget_subtitles(
        self, transcript_id: str, subtitle_format: str, *, chars_per_caption: int | None = None
    ) -> bytes:
        """Return subtitles; the async twin of :meth:`get_subtitles`."""
        call = self._subtitles_call(transcript_id, subtitle_format, chars_per_caption)
        return (await self._asend(call)).content

    async def apoll_redacted_audio(self, transcript_id: str) -> RedactionPoll:
        """Poll once; the async twin of :meth:`poll_redacted_audio`."""
        transcript = await self.aget_transcript(transcript_id)
        verdict = judge_transcript(transcript_id, transcript)
        if verdict is not None:
            return verdict
        return _poll_verdict(await self.aget_redacted_audio(transcript_id), transcript)

    async def adelete_transcript(self, transcript_id: str) -> dict[str, Any]:
        """Delete a transcript; the async twin of :meth:`delete_transcript`."""
        call = self._transcript_call("DELETE", transcript_id)
        return self._json(call, await self._asend(call))

    async def alist_transcripts(self, limit: int = 1) -> dict[str, Any]:
        """List transcripts; the async twin of :meth:`list_transcripts`."""
        return await self.alist_transcript_page(limit=limit)

    async def alist_transcript_page(
        self,
        *,
        limit: int = MAX_LIST_LIMIT,
        status: str | None = None,
        before_id: str | None = None,
        after_id: str | None = None,
    ) -> dict[str, Any]:
        """Return one page of transcripts; the async twin of :meth:`list_transcript_page`."""
        call = self._list_page_call(limit, status, before_id, after_id)
        return self._json(call, await self._asend(call))


@functools.cache
def _shared_ssl_context() -> ssl.SSLContext:
    """Return one verifying SSL context for every client of this process.

    Building a context loads the CA bundle (about 1 ms of CPU and a few hundred KiB each); a
    triggerer running a thousand waits would otherwise hold a thousand copies.
    """
    return httpx.create_ssl_context()


def submission_payload(audio_url: str, params: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON body of ``POST /v2/transcript`` without a default model chain; raise on bad input.

    ``None`` values are dropped; ``speech_models`` is normalised to a list when given; the
    deprecated singular ``speech_model`` is refused before any request.
    """
    if not audio_url:
        raise AssemblyAIInvalidInputError("audio_url is empty: pass the URL of the audio to transcribe.")
    if params.get("speech_model") is not None:
        raise AssemblyAIInvalidInputError(
            "speech_model (singular) is deprecated and AssemblyAI refuses it: pass speech_models, a list "
            'of models in priority order, e.g. speech_models=["universal-3-5-pro", "universal-2"].'
        )
    payload = {k: v for k, v in params.items() if v is not None and k != "speech_model"}
    if "speech_models" in payload:
        payload["speech_models"] = list(parse_speech_models(payload["speech_models"]))
    payload["audio_url"] = audio_url
    return payload


def _describe(exc: BaseException | None) -> str:
    """Name a transient fault without any URL (httpx messages may carry one)."""
    if isinstance(exc, _RetryableStatus):
        return f"HTTP {exc.status_code}"
    return type(exc).__name__ if exc else "unknown error"


def _poll_verdict(audio: RedactedAudio, transcript: dict[str, Any]) -> RedactionPoll:
    audio_format = audio_format_of(transcript)
    if audio.ready:
        return RedactionPoll(state="ready", reason="redacted_audio_ready", audio_format=audio_format)
    return RedactionPoll(state="waiting", reason="rendering redacted audio", audio_format=audio_format)


def _upload_url(body: dict[str, Any]) -> str:
    url = body.get("upload_url")
    if not isinstance(url, str) or not url:
        raise AssemblyAIUnexpectedResponseError("AssemblyAI POST /v2/upload answered without an upload_url.")
    mask_secret(url)
    return url


def _opener_for(source: str | os.PathLike[str] | ObjectStoragePath) -> Callable[[], IO[bytes]]:
    """Return a function that opens ``source`` for binary reading, checking it exists first."""
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise AssemblyAIInvalidInputError(
                f"audio_path {path!r} is not a readable file: pass an existing local file."
            )
        return lambda: open(path, "rb")
    if not source.is_file():
        raise AssemblyAIInvalidInputError(
            f"audio_path {str(source)!r} is not a file in object storage: pass an existing object."
        )
    return lambda: cast("IO[bytes]", source.open("rb"))  # type: ignore[no-untyped-call]


async def _to_async_iter(factory: Callable[[], Iterator[bytes]]) -> AsyncIterator[bytes]:
    """Read a blocking chunk iterator in a worker thread, so the event loop never waits on disk."""
    iterator = factory()
    sentinel = b""
    try:
        while chunk := await asyncio.to_thread(next, iterator, sentinel):
            yield chunk
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
