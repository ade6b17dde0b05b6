"""The faults a test scripts for one transcript: API errors, render delays, the file host's misbehaviour,
and a redaction that does not hold (a span left un-beeped, word timings off the audio)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Faults:
    """Faults scripted for one transcript (all JSON-serialisable)."""

    processing_seconds: float | None = None
    error: str | None = None
    render_seconds: float = 0.0
    #: The next N redacted-audio requests after completion answer 202 (a timing-free ``render_seconds``).
    render_polls: int = 0
    api_errors: list[int] = field(default_factory=list)
    retry_after: int | None = None
    # -- the file host (the redacted-audio download) --
    #: Drop the connection after this many body bytes, on the next ``cut_downloads`` downloads.
    cut_download_after: int | None = None
    cut_downloads: int = 1
    #: Bare statuses (no body) answered to the next downloads, in order.
    download_statuses: list[int] = field(default_factory=list)
    #: The next N downloads answer 307 with a freshly signed URL of the same file (a CDN hop, say).
    redirect_downloads: int = 0
    #: S3 error codes (see :data:`.file_host.S3_ERRORS`) answered with their XML body to the next downloads.
    download_errors: list[str] = field(default_factory=list)
    #: S3 error codes answered to the next *resumes* (requests from a byte after 0). An expiry code
    #: (``ExpiredToken``, ``TokenRefreshRequired``, ``RequestExpired``) kills the URL's token for good.
    resume_errors: list[str] = field(default_factory=list)
    #: The next N minted URLs are already past their ``Expires`` (403 "Request has expired").
    expired_urls: int = 0
    url_ttl_seconds: float = 1800.0
    #: Serve the body with no length at all (no ``Content-Length``, no ``Content-Range`` total,
    #: ``Range`` ignored), as a close-delimited body looks to the client.
    unknown_length: bool = False
    #: End the body cleanly after this many bytes on the next ``short_bodies`` downloads (how a cut
    #: close-delimited body looks: no error, just an early end). Use it with ``unknown_length``.
    short_body_after: int | None = None
    short_bodies: int = 1
    #: Serve ``"html"`` (a proxy's error page) or ``"empty"`` (no bytes) with 200 instead of the audio.
    substitute_body: str | None = None
    #: ``"md5"`` (a plain MD5 ETag), ``"multipart"`` (``"<md5 of parts>-N"``) or ``"none"``.
    etag_style: str = "md5"
    #: After this many bytes of the file, send ``SLOW_CHUNK`` bytes per ``slow_body_delay`` seconds.
    slow_body_after: int | None = None
    slow_body_delay: float = 0.5
    #: Seconds to backdate the redacted file's ``Last-Modified`` (when it was rendered) by.
    file_age_seconds: float | None = None
    redacted_size_bytes: int | None = None
    # -- the redaction itself --
    #: Indices (0-based) into :data:`~airflow_assemblyai.testing.audio.PII_SPANS` the redacted audio
    #: "forgets" to beep or silence: the source audio stays there (the transcript still marks the
    #: span's words as redacted). ``(1,)`` leaves the phone number audible.
    unredacted_spans: tuple[int, ...] = ()
    #: Milliseconds added to every word's (and utterance's) ``start`` and ``end`` in the transcript
    #: and its subtitles, relative to the audio (clamped at 0): ``300`` reads late, ``-300`` early, as
    #: the real API's timings are (utterances about 250 ms early were measured).
    word_shift_ms: int = 0

    def __post_init__(self) -> None:
        # Each transcript gets its own lists, so popping a scripted answer never touches another's.
        for name, value in vars(self).items():
            if isinstance(value, list):
                setattr(self, name, list(value))
        self.unredacted_spans = tuple(int(i) for i in self.unredacted_spans)
