"""The sink of any store behind Airflow's ``ObjectStoragePath``: whole files, streamed in bounded memory.

fsspec's file objects commit on ``close()``, even when the ``with`` block ended in an exception, so
a cut stream would become a short file. Here nothing becomes visible before the bytes are verified:

* ``file://``: the bytes go to a temporary name in the same directory, are flushed to disk, and are
  then linked to the final name (``os.link`` refuses an existing name, so create-only is atomic) or
  renamed over it (``replace``); the temporary name is removed whatever happens. The writer holds a
  lock on its temporary file while it lives; a temporary file nobody holds was left by an attempt
  that was killed (no clean-up runs after SIGKILL), and the next write of the same name removes it.
* ``memory://``: fsspec's memory store shows a file from ``open()`` on, whatever ``autocommit``
  says, so the bytes go to a temporary name and are moved to the final one after verification.
* other stores: the file is opened with ``autocommit=False`` and committed only after the last byte
  was read and verified, discarded on any error. Create-only is a check right before the commit,
  not atomic across concurrent writers.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import uuid
from typing import IO, TYPE_CHECKING, Any, Protocol

from airflow_assemblyai.archive.location import LOCAL_PROTOCOLS, path_uri
from airflow_assemblyai.archive.record import (
    AUDIO_DIGEST_SUFFIX,
    MANIFEST_MAX_BYTES,
    AudioDigest,
    Digest,
    Digesting,
)
from airflow_assemblyai.archive.sinks import ArchivedAudio, AudioUpload, SourceProbe, StoredFile, TaskLog
from airflow_assemblyai.exceptions import (
    AssemblyAIFinalError,
    AssemblyAIInvalidInputError,
    AssemblyAITransientError,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

#: Bytes read from the source and written per step: the memory a copy holds, besides the store's buffer.
CHUNK_SIZE = 8 * 1024 * 1024
_PARTIAL = ".partial"
#: A temporary name: ``.<final name>.<32 hex>.partial``.
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{32}" + re.escape(_PARTIAL))
#: Stores whose files are visible from ``open()`` on, ``autocommit=False`` or not (fsspec's memory store).
SHOWN_ON_OPEN = frozenset({"memory"})


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def write_whole(
    path: ObjectStoragePath,
    source: _Readable,
    *,
    create_only: bool,
    chunk_size: int = CHUNK_SIZE,
    before_commit: Callable[[], None] | None = None,
) -> bool:
    """Copy ``source`` to ``path`` so that it appears whole or not at all; return False when taken.

    ``source.read`` raising (a failed verification, a cut download) leaves nothing at ``path``.

    :param before_commit: called once every byte was read (so verified) and before the file
        becomes visible at ``path``; raising there leaves nothing at ``path`` either.
    """
    commit_hook = before_commit or _nothing
    if path.protocol in LOCAL_PROTOCOLS:
        return _write_local(
            str(path.path), source, create_only=create_only, chunk_size=chunk_size, before_commit=commit_hook
        )
    if create_only and path.exists():
        return False
    if path.protocol in SHOWN_ON_OPEN:
        return _write_then_move(
            path, source, create_only=create_only, chunk_size=chunk_size, before_commit=commit_hook
        )
    handle: Any = path.fs.open(path.path, "wb", autocommit=False)
    if not hasattr(handle, "commit"):
        handle.close()
        raise AssemblyAIInvalidInputError(
            f"The store of {path} cannot hold a file back until it is complete (no autocommit=False), so a "
            "failed copy could leave a partial file there: archive to S3 or file:// instead."
        )
    try:
        while chunk := source.read(chunk_size):
            handle.write(chunk)
        if create_only and path.exists():
            _abandon(handle)
            return False
        commit_hook()
        # As fsspec's transactions do: close() sends what is buffered, then commit() finalises it
        # (gcsfs cannot commit a file it has not flushed). The source was read, so verified, whole.
        handle.close()
        handle.commit()
    except BaseException:
        _abandon(handle)
        raise
    return True


def _nothing() -> None:
    return None


def _abandon(handle: Any) -> None:
    """Throw away an uncommitted file, and keep a later ``close()`` (by the garbage collector
    too) from flushing it: some stores commit on the final flush whatever ``autocommit`` says."""
    with contextlib.suppress(Exception):
        handle.discard()
    with contextlib.suppress(Exception):
        handle.closed = True


def _write_then_move(
    path: ObjectStoragePath,
    source: _Readable,
    *,
    create_only: bool,
    chunk_size: int,
    before_commit: Callable[[], None],
) -> bool:
    """Write to a temporary sibling name, then move it to ``path`` once the source was read whole."""
    fs, final = path.fs, str(path.path)
    directory, _, name = final.rpartition("/")
    temporary = f"{directory}/.{name}.{uuid.uuid4().hex}{_PARTIAL}"
    try:
        with fs.open(temporary, "wb") as handle:
            while chunk := source.read(chunk_size):
                handle.write(chunk)
        if create_only and fs.exists(final):
            return False
        before_commit()
        fs.mv(temporary, final)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            fs.rm(temporary)


def _write_local(
    final: str, source: _Readable, *, create_only: bool, chunk_size: int, before_commit: Callable[[], None]
) -> bool:
    directory, name = os.path.split(final)
    os.makedirs(directory or ".", exist_ok=True)
    _remove_abandoned(directory or ".", name)
    temporary = os.path.join(directory, f".{name}.{uuid.uuid4().hex}{_PARTIAL}")
    with open(temporary, "xb") as handle:
        try:
            # Held until the file is closed (or the process dies): "this temporary file is being written".
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            if os.stat(temporary).st_ino != os.fstat(handle.fileno()).st_ino:
                raise AssemblyAITransientError(
                    f"The temporary file of {final} was removed before it was locked; retry the task."
                )
            while chunk := source.read(chunk_size):
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
            if create_only and os.path.lexists(final):
                return False
            before_commit()
            if not create_only:
                os.replace(temporary, final)
                return True
            try:
                os.link(temporary, final)
            except FileExistsError:
                return False
            return True
        finally:
            # Removed while still locked, so no other write's clean-up can mistake it for abandoned.
            with contextlib.suppress(FileNotFoundError):
                os.remove(temporary)


def _remove_abandoned(directory: str, name: str) -> None:
    """Remove the temporary files of ``name`` that no running write holds (a killed attempt's)."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry.name)
        if match is None or match["name"] != name or not entry.is_file(follow_symlinks=False):
            continue
        try:
            descriptor = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a running write holds it
            with contextlib.suppress(FileNotFoundError):
                os.remove(entry.path)
                log.warning("Removed %s, left by an attempt that was stopped mid-write.", entry.path)
        finally:
            os.close(descriptor)


def digest_of(path: ObjectStoragePath, *, chunk_size: int = CHUNK_SIZE) -> Digest:
    """Return the digest (SHA-256, MD5, length) of the file at ``path``, read in chunks."""
    with path.open("rb") as handle:  # type: ignore[no-untyped-call]
        return Digesting.of(handle, chunk_size=chunk_size)


def audio_digest_path(audio: ObjectStoragePath) -> ObjectStoragePath:
    """Return where the digest of ``audio`` is recorded: ``x.wav`` gives ``x.wav.digest.json``."""
    return audio.with_name(audio.name + AUDIO_DIGEST_SUFFIX)


def write_audio_digest(audio: ObjectStoragePath, recorded: AudioDigest) -> None:
    """Record ``recorded`` beside ``audio`` (replacing what a failed attempt recorded there)."""
    write_whole(audio_digest_path(audio), _BytesReader(recorded.encode()), create_only=False)


def read_audio_digest(audio: ObjectStoragePath) -> AudioDigest | None:
    """Return the digest recorded beside ``audio``, or None when there is none (or not one we wrote)."""
    path = audio_digest_path(audio)
    try:
        with path.open("rb") as handle:  # type: ignore[no-untyped-call]
            data: bytes = handle.read(MANIFEST_MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    return AudioDigest.parse(data) if len(data) <= MANIFEST_MAX_BYTES else None


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._at = 0

    def read(self, size: int = -1, /) -> bytes:
        end = len(self._data) if size < 0 else self._at + size
        chunk = bytes(self._data[self._at : end])
        self._at += len(chunk)
        return chunk


class ObjectStoreSink:
    """Write an archive to any ``ObjectStoragePath`` store (``file://``, ``gs://``...); keys are URIs.

    Stores behind ``ObjectStoragePath`` keep no user metadata the provider can rely on, so files
    are recognised by their content: the audio by the SHA-256 recorded beside it
    (``x.wav.digest.json``, written right before the audio becomes visible), the record's small files
    by their bytes, and the manifest carries what S3 keeps in metadata.

    :param conn_id: the Airflow connection of the store (the destination's ``conn_id``).
    :param destination: the path the task was given; its URI resolves to it (storage options kept).
    :param log: where to log (the task's logger); this module's when None.
    """

    keeps_metadata = False

    def __init__(
        self,
        *,
        conn_id: str | None,
        destination: ObjectStoragePath | None = None,
        log: TaskLog | None = None,
    ) -> None:
        self.conn_id = conn_id
        self.log: TaskLog = log or logging.getLogger(__name__)
        self.destination = destination

    def path(self, key: str) -> ObjectStoragePath:
        """Return the path of ``key``."""
        from airflow.sdk import ObjectStoragePath

        if self.destination is not None and key == path_uri(self.destination):
            return self.destination
        return ObjectStoragePath(key, conn_id=self.conn_id)

    def uri(self, key: str) -> str:
        """Return ``key``: it is already a URI."""
        return key

    # -- small files ------------------------------------------------------------------------------

    def find(self, key: str) -> StoredFile | None:
        """Return the size of the file at ``key``, or None."""
        path = self.path(key)
        if not path.exists():
            return None
        return StoredFile(size=int(path.stat().st_size), transcript_id=None)

    def read(self, key: str, *, limit: int = MANIFEST_MAX_BYTES) -> bytes:
        """Return the file's bytes, refusing one larger than ``limit``."""
        path = self.path(key)
        with path.open("rb") as handle:  # type: ignore[no-untyped-call]
            data: bytes = handle.read(limit + 1)
        if len(data) > limit:
            raise AssemblyAIFinalError(f"{key} is larger than {limit} bytes: not a record file.")
        return data

    def put(
        self, key: str, data: bytes, *, content_type: str, metadata: dict[str, str], create_only: bool
    ) -> bool:
        """Write ``data`` whole or not at all (content type and metadata are the manifest's to keep)."""
        return write_whole(self.path(key), _BytesReader(data), create_only=create_only)

    def digest(self, key: str) -> Digest:
        """Return the digest of the file's bytes, streamed."""
        return digest_of(self.path(key))

    def open_read(self, key: str) -> IO[bytes]:
        """Return the file opened for reading (the store's own seekable, buffered file)."""
        handle: IO[bytes] = self.path(key).open("rb")  # type: ignore[no-untyped-call]
        return handle

    # -- the audio --------------------------------------------------------------------------------

    def audio_there(
        self, key: str, transcript_id: str, *, replace: bool, probe: SourceProbe
    ) -> ArchivedAudio | None:
        """Return what ``key`` holds when it is this transcript's audio, shown by content; None when free.

        The stored bytes' SHA-256 is compared with the one the attempt that wrote them recorded beside
        them; failing that, their MD5 with the source's (``probe``), when the source's ETag is an MD5.

        :raises AssemblyAIFinalError: the file is not shown to be this transcript's audio.
        """
        path = self.path(key)
        if not path.exists():
            return None
        if replace:
            self.log.info("%s exists; replace=True, so it will be overwritten.", path)
            return None
        stored = digest_of(path)
        recorded = read_audio_digest(path)
        if (
            recorded is not None
            and recorded.transcript_id == transcript_id
            and (recorded.sha256, recorded.size) == (stored.sha256, stored.size)
        ):
            self.log.info(
                "%s already holds the redacted audio of transcript %s (its SHA-256 matches the one recorded "
                "when it was written).",
                path,
                transcript_id,
            )
            return ArchivedAudio(wrote=False, sha256=stored.sha256, source_md5=recorded.source_md5)
        length, md5 = probe()
        if md5 is not None and length == stored.size and stored.md5 == md5:
            self.log.info(
                "%s already holds the redacted audio of transcript %s (length and MD5).", path, transcript_id
            )
            return ArchivedAudio(wrote=False, sha256=stored.sha256, source_md5=stored.md5)
        raise AssemblyAIFinalError(
            f"{path} already exists and is not shown to be the redacted audio of transcript {transcript_id} "
            "(no SHA-256 recorded beside it by the attempt that wrote it matches its bytes, and its length "
            "or MD5 differs from the source's, or the source has no MD5 to compare); it was left untouched. "
            "Set replace=True to overwrite it, or choose another destination."
        )

    def prepare(self, key: str) -> None:
        """Do nothing: a killed attempt's temporary file is removed by the next write of the name."""

    def write_audio(
        self, key: str, audio: AudioUpload, *, create_only: bool, on_interrupt: Callable[[], None]
    ) -> str | None:
        """Stream ``audio`` to ``key`` whole or not at all; None once written, a reason when taken.

        Right before the file becomes visible, its SHA-256 (computed while streaming) and the
        transcript id are recorded beside it, so a re-run recognises it by content.
        """
        path = self.path(key)

        def record_digest() -> None:
            archived, digest = audio.result(), audio.reader.digest
            size = digest.size if digest else 0
            write_audio_digest(
                path, AudioDigest(audio.transcript_id, size, archived.sha256 or "", archived.source_md5)
            )

        if write_whole(path, audio.reader, create_only=create_only, before_commit=record_digest):
            return None
        return "another writer completed it first"

    def record_digest(self, key: str, transcript_id: str, audio: ArchivedAudio, *, replace: bool) -> None:
        """Do nothing: :meth:`write_audio` recorded the digest before the audio became visible."""

    def cancel(self) -> None:
        """Do nothing: the download's cancellation ends the write (nothing is committed)."""

    def explain(self, exc: BaseException, key: str) -> Exception | None:
        """Return None: the store's own errors say what went wrong."""
        return None
