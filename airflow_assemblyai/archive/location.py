"""Where an archive goes: ``s3://bucket/key`` from the transfer's fields, or any object-storage URI.

Pure but for building an ``ObjectStoragePath``: no request is sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

#: Characters left as they are in an ``s3://`` URI path; everything else is percent-encoded.
_URI_SAFE = "/!$&'()*+,;=:@"
#: Protocols of the local filesystem, whose URIs name no host.
_LOCAL = ("file", "local")


def split_s3_location(s3_bucket: object, s3_key: object) -> tuple[str, str]:
    """Return ``(bucket, key)`` from the transfer's ``s3_bucket`` and ``s3_key`` fields.

    ``s3_key`` may be a full ``s3://bucket/key``: it is split at the first ``/`` after the bucket
    and the rest is the key, literally (``#``, ``?``, ``%`` and ``//`` are part of it). A key that
    starts with ``/`` keeps it in both spellings: ``s3://b//a.wav`` and ``s3_key="/a.wav"`` both
    name the key ``/a.wav``. Surrounding whitespace is removed.

    :raises AssemblyAIInvalidInputError: naming the field and the fix.
    """
    bucket = str(s3_bucket or "").strip()
    key = str(s3_key or "").strip()
    if not key:
        raise AssemblyAIInvalidInputError("s3_key is empty: pass the object key, or s3://bucket/key.")
    if key.startswith("s3://"):
        url_bucket, slash, key = key[len("s3://") :].partition("/")
        if not url_bucket or not slash or not key:
            raise AssemblyAIInvalidInputError(
                f"s3_key {s3_key!r} names no bucket or no key: write it as s3://bucket/key."
            )
        if bucket and bucket != url_bucket:
            raise AssemblyAIInvalidInputError(
                f"s3_key names bucket {url_bucket!r} but s3_bucket is {bucket!r}: leave s3_bucket empty "
                "or make them equal."
            )
        bucket = url_bucket
    if not bucket:
        raise AssemblyAIInvalidInputError(
            "s3_bucket is missing: pass s3_bucket, or a full s3://bucket/key as s3_key."
        )
    return bucket, key


def archive_uri(bucket: str, key: str) -> str:
    """Return ``s3://bucket/key`` with what a URI cannot carry (``#``, ``?``, ``%``...) percent-encoded."""
    return f"s3://{bucket}/{quote(key, safe=_URI_SAFE)}"


def parse_archive_uri(uri: object, *, field: str = "archive_uri") -> tuple[str, str]:
    """Return ``(bucket, key)`` of a URI made by :func:`archive_uri` (percent-escapes decoded).

    :raises AssemblyAIInvalidInputError: the value is not ``s3://bucket/key``.
    """
    text = str(uri or "").strip()
    bucket, slash, key = text.removeprefix("s3://").partition("/")
    if not text.startswith("s3://") or not bucket or not slash or not key:
        raise AssemblyAIInvalidInputError(
            f"{field} {text[:200]!r} is not s3://bucket/key: pass the URI the transfer task returned "
            "(its XCom)."
        )
    return bucket, unquote(key)


def as_object_storage_path(value: object, *, field: str = "destination") -> ObjectStoragePath:
    """Return ``value`` as an ``ObjectStoragePath`` (a URI string is accepted); raise naming ``field``."""
    from airflow.sdk import ObjectStoragePath

    if isinstance(value, ObjectStoragePath):
        return value
    text = str(value or "").strip()
    if "://" not in text:
        raise AssemblyAIInvalidInputError(
            f"{field} {text[:200]!r} is not an object-storage URI: pass e.g. file:///archive/calls/x.wav, "
            "gs://bucket/key or an ObjectStoragePath."
        )
    parts = urlsplit(text)
    host = parts.netloc.rpartition("@")[2]  # a connection id (``conn@``) names no host
    if parts.scheme.lower() in _LOCAL and host:
        absolute = parts.path if host.lower() == "localhost" else f"/{host}{parts.path}"
        raise AssemblyAIInvalidInputError(
            f"{field} {text[:200]!r} has two slashes, so {host!r} would be read as a host and the file "
            f"written under the worker's working directory: write the absolute path with three slashes, "
            f"{parts.scheme}://{absolute[:200]}."
        )
    return ObjectStoragePath(text)
