"""write_whole against a store whose files commit on their final flush, as adlfs's do."""

from __future__ import annotations

import fcntl
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from airflow_assemblyai.archive.location import as_object_storage_path
from airflow_assemblyai.archive.object_store_sink import write_whole
from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError


class FlushCommitsFileSystem(AbstractFileSystem):
    """Files become visible when their final chunk is flushed, ``autocommit`` or not."""

    protocol = "flushcommits"
    cachable = False

    def __init__(self) -> None:
        super().__init__()
        self.visible: dict[str, bytes] = {}

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> FlushCommitsFile:
        return FlushCommitsFile(self, path, mode, **kwargs)

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        if path not in self.visible:
            raise FileNotFoundError(path)
        return {"name": path, "size": len(self.visible[path]), "type": "file"}


class FlushCommitsFile(AbstractBufferedFile):
    def _initiate_upload(self) -> None:
        self.staged = io.BytesIO()

    def _upload_chunk(self, final: bool = False) -> bool:
        self.staged.write(self.buffer.getvalue())
        if final:
            self.fs.visible[self.path] = self.staged.getvalue()
        return True


class CutShort:
    """A source that raises after some bytes, as a download that fails its check does."""

    def __init__(self, good: bytes) -> None:
        self.parts = [good]

    def read(self, size: int = -1, /) -> bytes:
        if self.parts:
            return self.parts.pop()
        raise OSError("the download was cut short")


class FakePath:
    """The two things write_whole asks of an ObjectStoragePath."""

    def __init__(self, fs: FlushCommitsFileSystem, path: str) -> None:
        self.fs, self.path, self.protocol = fs, path, "flushcommits"

    def exists(self) -> bool:
        return self.fs.exists(self.path)


def test_a_failed_copy_stays_invisible_even_when_the_file_is_collected() -> None:
    fs = FlushCommitsFileSystem()
    failure = ""
    try:
        write_whole(FakePath(fs, "/a.wav"), CutShort(b"RIFF" + b"\0" * 100), create_only=True)  # type: ignore[arg-type]
    except OSError as exc:  # caught here, not kept by pytest: its traceback would keep the file alive
        failure = str(exc)
    assert failure == "the download was cut short"
    # fsspec keeps each autocommit=False file in the filesystem's transaction list, so it is
    # collected with the filesystem (at the latest when the process exits): its __del__ closes
    # it then, and a close with data in it commits.
    assert fs.transaction.files
    for leftover in fs.transaction.files:
        leftover.__del__()
    assert fs.visible == {}


def test_a_whole_copy_is_committed_once_and_a_taken_name_is_left_alone() -> None:
    fs = FlushCommitsFileSystem()
    assert write_whole(FakePath(fs, "/a.wav"), io.BytesIO(b"whole"), create_only=True)  # type: ignore[arg-type]
    assert not write_whole(FakePath(fs, "/a.wav"), io.BytesIO(b"other"), create_only=True)  # type: ignore[arg-type]
    for leftover in fs.transaction.files:
        leftover.__del__()
    assert fs.visible == {"/a.wav": b"whole"}


def test_on_memory_a_failed_copy_leaves_nothing_and_a_whole_one_lands_alone() -> None:
    # fsspec's memory store shows a file from open() on, whatever autocommit says.
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    fs = MemoryFileSystem()
    attach("memory", conn_id="unit_memory", fs=fs)
    path = ObjectStoragePath("memory://unit_memory@unit-write/a.wav")
    failure = ""
    try:
        write_whole(path, CutShort(b"RIFF" + b"\0" * 100), create_only=True)
    except OSError as exc:
        failure = str(exc)
    assert failure == "the download was cut short"
    assert [name for name in fs.store if "/unit-write/" in name] == []

    assert write_whole(path, io.BytesIO(b"whole"), create_only=True)
    assert not write_whole(path, io.BytesIO(b"other"), create_only=True)
    assert {name: fs.cat(name) for name in fs.store if "/unit-write/" in name} == {
        "/unit-write/a.wav": b"whole"
    }


def test_a_killed_attempts_partial_file_is_removed_by_the_next_write(tmp_path: Path) -> None:
    from airflow.sdk import ObjectStoragePath

    leftover = tmp_path / f".a.wav.{uuid.uuid4().hex}.partial"
    leftover.write_bytes(b"RIFF half of it")  # SIGKILL runs no clean-up: this is what it leaves

    assert write_whole(ObjectStoragePath(f"file://{tmp_path}/a.wav"), io.BytesIO(b"whole"), create_only=True)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


def test_a_partial_file_another_writer_holds_is_left_alone(tmp_path: Path) -> None:
    from airflow.sdk import ObjectStoragePath

    live = tmp_path / f".a.wav.{uuid.uuid4().hex}.partial"
    with open(live, "wb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running write holds its own
        write_whole(ObjectStoragePath(f"file://{tmp_path}/b.wav"), io.BytesIO(b"whole"), create_only=True)
        write_whole(ObjectStoragePath(f"file://{tmp_path}/a.wav"), io.BytesIO(b"whole"), create_only=True)
        assert live.exists()


@pytest.mark.parametrize(
    "uri", ["file://archive/x.wav", "file://localhost/archive/x.wav", "local://archive/x.wav"]
)
def test_a_file_uri_with_a_host_is_refused_naming_the_field_and_the_fix(uri: str) -> None:
    with pytest.raises(AssemblyAIInvalidInputError, match=r"^destination .* (file|local):///archive/x\.wav"):
        as_object_storage_path(uri)
