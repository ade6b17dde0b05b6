"""Keep credentials carried by URLs out of the texts this provider stores, raises and logs.

Three rules, for two kinds of text and one kind of secret:

- :func:`mask_urls_in` for text that came from elsewhere, such as AssemblyAI's error texts ("Download
  error, unable to download <audio_url>"). Every URL in it is cut to its origin (scheme, host, port):
  the query holds a pre-signed URL's signature and token; some URLs carry their credential in the
  path (capability URLs: upload and CDN links); and in a PII-redaction pipeline the object key itself
  often names a person. The origin still says which store refused; the full URL stays one request
  away (the transcript's ``audio_url``, read with the API key).
- :func:`mask_url` for a value the user configured and must recognise (the connection's Host): the
  path is kept, userinfo, query and fragment are masked.

- :func:`mask_presigned_url` for a pre-signed URL this provider holds (the redacted audio's): the
  URL and each of its query values, in every form a log line may print them, are registered with
  Airflow's log masker; :func:`mask_redirect_location` does the same for a redirect's ``Location``.

The first two texts go where Airflow's log masker cannot help: trigger events and exceptions are stored in
the metadata database, and the URL was never registered with the masker anyway.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

import httpx
from airflow.sdk.log import mask_secret

MASK = "***"

#: A URL with a scheme, up to whitespace, a double quote or an angle bracket. A single quote may
#: sit inside a (sloppy) query, so it does not end the URL; a closing one is trimmed below.
_URL = re.compile(r"""\b[A-Za-z][A-Za-z0-9+.-]*://[^\s<>"`]+""")
#: A query string left after that (a URL without a scheme): ``?name=value...``.
_QUERY = re.compile(r"""\?[^\s<>"'`?]*=[^\s<>"'`]*""")
#: Punctuation that ends the sentence around a URL rather than the URL itself.
_TRAILING = ".,;:!?)]}'"


def mask_urls_in(text: str) -> str:
    """Return ``text`` with every URL cut to its origin and any other query string masked.

    ``https://b.s3.amazonaws.com/k.wav?X-Amz-Signature=...`` becomes ``https://b.s3.amazonaws.com/***``;
    a bare origin (``https://api.assemblyai.com``) is left as it is.
    """
    return _QUERY.sub(f"?{MASK}", _URL.sub(_origin_only, text))


def _origin_only(match: re.Match[str]) -> str:
    url = match.group(0)
    stripped = url.rstrip(_TRAILING)
    trailing = url[len(stripped) :]
    try:
        parts = urlsplit(stripped)
        host = parts.hostname
        port = parts.port
    except ValueError:
        host = None
    if not host:
        return f"{stripped.split('://', 1)[0]}://{MASK}{trailing}"
    origin = f"{parts.scheme}://{f'[{host}]' if ':' in host else host}{f':{port}' if port else ''}"
    rest = stripped[len(parts.scheme) + 3 :].split("/", 1)
    has_more = "@" in rest[0] or any(c in rest[0] for c in "?#") or (len(rest) > 1 and rest[1])
    return f"{origin}/{MASK}{trailing}" if has_more else f"{stripped}{trailing}"


def mask_url(url: str) -> str:
    """Return ``url`` with its userinfo, query and fragment masked; scheme, host, port and path kept.

    Works on a value without a scheme too (``user:pw@host:1?t=x`` becomes ``***@host:1?***``).
    """
    has_scheme = "://" in url
    parts = urlsplit(url if has_scheme else f"//{url}")
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    shown = f"{parts.scheme}://{netloc}" if has_scheme else netloc
    shown += parts.path
    if parts.query:
        shown += f"?{MASK}"
    if parts.fragment:
        shown += f"#{MASK}"
    return shown


def mask_presigned_url(url: str) -> None:
    """Mask a pre-signed URL, and every one of its query values, in every Airflow log.

    Each value is registered as it stands in the URL (a base64 signature keeps its ``%2B``, ``%2F``
    and ``%3D``), decoded, and encoded again in full, and the URL as httpx prints it too, so a log
    line holding any of these forms prints ``***``. Airflow's masker itself leaves out values
    shorter than ``[logging] min_length_masked_secret``.
    """
    for secret in presigned_url_forms(url):
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


def presigned_url_forms(url: str) -> set[str]:
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
