"""Where an archive goes: ``s3://bucket/key`` from the transfer's fields, or any object-storage URI.

Pure but for building an ``ObjectStoragePath``: no request is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

#: Characters left as they are in an ``s3://`` URI path; everything else is percent-encoded.
_URI_SAFE = "/!$&'()*+,;=:@"
#: Protocols of the local filesystem, whose URIs name no host.
LOCAL_PROTOCOLS = ("file", "local")


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
    if parts.scheme.lower() in LOCAL_PROTOCOLS and host:
        absolute = parts.path if host.lower() == "localhost" else f"/{host}{parts.path}"
        raise AssemblyAIInvalidInputError(
            f"{field} {text[:200]!r} has two slashes, so {host!r} would be read as a host and the file "
            f"written under the worker's working directory: write the absolute path with three slashes, "
            f"{parts.scheme}://{absolute[:200]}."
        )
    return ObjectStoragePath(text)


@dataclass(frozen=True)
class Destination:
    """Where an archive goes: an S3 bucket and key with the AWS connection to use, or a path elsewhere.

    :param key: the S3 key, or the full URI of a path on another store (what its sink calls a key).
    """

    key: str
    bucket: str | None = None
    aws_conn_id: str | None = None
    path: ObjectStoragePath | None = None

    @property
    def protocol(self) -> str:
        """Return ``s3``, or the protocol of the path (``file``, ``gs``...)."""
        return "s3" if self.path is None else str(self.path.protocol)


def resolve_destination(
    *, s3_bucket: object, s3_key: object, destination: object, aws_conn_id: str | None
) -> Destination:
    """Return where the transfer's fields say the archive goes.

    ``destination`` (an ``ObjectStoragePath`` or its URI) excludes ``s3_bucket``/``s3_key``. An
    ``s3://`` destination is S3 with all its guarantees; its ``conn_id``, when it has one, is the AWS
    connection instead of ``aws_conn_id``.

    :raises AssemblyAIInvalidInputError: naming the field and the fix.
    """
    if destination is None or destination == "":
        bucket, key = split_s3_location(s3_bucket, s3_key)
        return Destination(key, bucket, aws_conn_id)
    if s3_key or s3_bucket:
        raise AssemblyAIInvalidInputError(
            "destination and s3_bucket/s3_key are both set: give the destination one way only."
        )
    path = as_object_storage_path(destination)
    if path.protocol in ("s3", "s3a"):
        bucket, key = split_s3_location(path.bucket, path.key)
        return Destination(key, bucket, path.conn_id or aws_conn_id)
    return Destination(path_uri(path), path=path)


def aws_conn_id_for(destination: object, default: str | None) -> str | None:
    """Return the AWS connection an ``s3://`` ``destination`` names (its ``conn_id``), else ``default``.

    Never raises: a destination that does not parse is refused by :func:`resolve_destination`.
    """
    if destination is None or destination == "":
        return default
    try:
        path = as_object_storage_path(destination)
    except Exception:
        return default
    if path.protocol in ("s3", "s3a") and path.conn_id:
        return str(path.conn_id)
    return default


def path_uri(path: ObjectStoragePath) -> str:
    """Return ``protocol://path`` of ``path``: its key in its sink, and the URI the transfer returns."""
    return f"{path.protocol}://{path.path}"
