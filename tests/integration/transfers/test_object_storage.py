"""One record pipeline to file://, memory://, gs:// and abfs:// (emulators), s3:// as ObjectStoragePath."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from airflow.sdk import Context, ObjectStoragePath

from airflow_assemblyai.archive.record import ALLOWED_FIELDS
from airflow_assemblyai.exceptions import (
    AssemblyAIFinalError,
    AssemblyAIInvalidInputError,
    RedactedAudioIntegrityError,
)
from airflow_assemblyai.operators.delete import AssemblyAIDeleteTranscriptOperator
from airflow_assemblyai.testing.emulator import Emulator, Faults
from airflow_assemblyai.testing.loopback import LOOPBACK, free_port, listening_process
from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
    AssemblyAIRedactedAudioToObjectStorageOperator,
)

PARAMS = {
    "redact_pii": True,
    "redact_pii_audio": True,
    "redact_pii_policies": ["person_name", "phone_number"],
    "redact_pii_audio_quality": "wav",
    "entity_detection": True,
    "redact_pii_return_unredacted": True,
}
SUFFIXES = (".wav", ".transcript.json", ".srt", ".vtt", ".manifest.json")
#: Outside S3, the SHA-256 of the audio recorded beside it by the attempt that wrote it.
AUDIO_DIGEST = ".wav.digest.json"


def to(destination: Any, tid: str, **kwargs: Any) -> AssemblyAIRedactedAudioToObjectStorageOperator:
    return AssemblyAIRedactedAudioToObjectStorageOperator(
        task_id="archive", transcript_id=tid, destination=destination, archive_record=True, **kwargs
    )


def run(operator: AssemblyAIRedactedAudioToObjectStorageOperator) -> str:
    return operator.execute(cast("Context", {}))


class Store:
    """One fsspec store attached to Airflow's object-storage layer for a test: where and how to look."""

    def __init__(self, protocol: str, fs: Any, root: str, conn_id: str | None = None) -> None:
        self.protocol, self.fs, self.root, self.conn_id = protocol, fs, root, conn_id

    def uri(self, name: str) -> str:
        at = f"{self.conn_id}@" if self.conn_id else ""
        return f"{self.protocol}://{at}{self.root.lstrip('/')}/{name}"

    def names(self) -> set[str]:
        self.fs.invalidate_cache()
        return {path.rsplit("/", 1)[-1] for path in self.fs.find(self.root)}

    def cat(self, name: str) -> bytes:
        return bytes(self.fs.cat(f"{self.root}/{name}"))

    def put(self, name: str, data: bytes) -> None:
        self.fs.pipe(f"{self.root}/{name}", data)

    def versions(self) -> dict[str, object]:
        """Return what changes when a file is written again (creation time, GCS generation)."""
        self.fs.invalidate_cache()
        key = {"gs": "generation", "abfs": "etag"}.get(self.protocol, "created")
        return {path: self.fs.info(path)[key] for path in self.fs.find(self.root)}


def memory_store() -> Store:
    """Attach a fresh fsspec memory filesystem as Airflow's ``memory://`` store."""
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    fs = MemoryFileSystem()
    fs.store.clear()
    attach("memory", fs=fs)
    return Store("memory", fs, "/archive")


@contextlib.contextmanager
def gcs_store() -> Iterator[Store]:
    """Run gcp-storage-emulator (a GCS JSON API server) on 127.0.0.1; attach it as ``gs://``."""
    # gcsfs would otherwise probe each bucket's type over gRPC, which the emulator does not serve.
    os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
    import gcsfs
    from airflow.sdk.io import attach

    port = free_port()
    args = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", LOOPBACK, "--port", str(port)]
    with listening_process([*args, "--in-memory"], port, "the GCS emulator"):
        fs = gcsfs.GCSFileSystem(endpoint_url=f"http://{LOOPBACK}:{port}", token="anon", project="test")
        fs.mkdir("archive")
        # Under a connection id, as a deployment names its GCS connection in the URI (one per
        # emulator: Airflow keeps the first store attached under a name).
        conn_id = f"gcs_emulator_{port}"
        attach("gs", conn_id=conn_id, fs=fs)
        yield Store("gs", fs, "archive", conn_id=conn_id)


#: Azurite's development account: its documented, public well-known key.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURITE = Path(__file__).parents[2] / "emulators" / "node_modules" / ".bin" / "azurite-blob"


@contextlib.contextmanager
def azure_store() -> Iterator[Store]:
    """Run Azurite's blob service on 127.0.0.1; attach it (through adlfs) as ``abfs://``."""
    from adlfs import AzureBlobFileSystem
    from airflow.sdk.io import attach

    if not AZURITE.exists():
        raise RuntimeError(
            f"{AZURITE} is missing: ./scripts/test installs Azurite with npm (tests/emulators/package.json)."
        )
    port = free_port()
    args = [
        str(AZURITE),
        "--blobHost",
        LOOPBACK,
        "--blobPort",
        str(port),
        "--inMemoryPersistence",
        "--silent",
        "--skipApiVersionCheck",  # the Azure SDK may speak an API version newer than this Azurite's
    ]
    with listening_process(args, port, "Azurite"):
        fs = AzureBlobFileSystem(
            connection_string=(
                f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
                f"BlobEndpoint=http://{LOOPBACK}:{port}/{AZURITE_ACCOUNT};"
            )
        )
        fs.mkdir("archive")
        conn_id = f"azurite_{port}"
        attach("abfs", conn_id=conn_id, fs=fs)
        yield Store("abfs", fs, "archive", conn_id=conn_id)


@pytest.fixture(params=["memory", "gs", "abfs"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """Each store written through fsspec: its memory store, a GCS emulator and Azurite."""
    if request.param == "memory":
        yield memory_store()
        return
    with gcs_store() if request.param == "gs" else azure_store() as emulated:
        yield emulated


def test_the_same_record_to_file_and_to_s3_as_object_storage_paths(
    assemblyai_connection: Emulator, tmp_path: Path, s3_bucket: str, s3_client: Any
) -> None:
    tid = assemblyai_connection.add_transcript(params=PARAMS)
    local = run(to(ObjectStoragePath(f"file://{tmp_path}/calls/a.wav"), tid))
    in_s3 = run(to(ObjectStoragePath(f"s3://aws_default@{s3_bucket}/calls/a.wav"), tid))

    assert local == f"file://{tmp_path}/calls/a.manifest.json"
    assert in_s3 == f"s3://{s3_bucket}/calls/a.manifest.json"
    assert sorted(p.name for p in (tmp_path / "calls").iterdir()) == sorted(
        f"a{s}" for s in (*SUFFIXES, AUDIO_DIGEST)
    )
    for suffix in (".wav", ".srt", ".vtt"):
        stored = s3_client.get_object(Bucket=s3_bucket, Key=f"calls/a{suffix}")
        assert (tmp_path / "calls" / f"a{suffix}").read_bytes() == stored["Body"].read(), suffix
    assert (tmp_path / "calls" / "a.wav").read_bytes() == assemblyai_connection.redacted_audio(tid)
    document = json.loads((tmp_path / "calls" / "a.transcript.json").read_text())
    assert set(document) <= {*ALLOWED_FIELDS, "schema", "archived_at"}
    assert "Jane" not in json.dumps(document)
    manifest = json.loads((tmp_path / "calls" / "a.manifest.json").read_text())
    assert manifest["files"]["audio"]["size"] == len(assemblyai_connection.redacted_audio(tid))


def test_a_rerun_on_file_writes_nothing_twice(assemblyai_connection: Emulator, tmp_path: Path) -> None:
    tid = assemblyai_connection.add_transcript(params=PARAMS)
    destination = f"file://{tmp_path}/a.wav"
    run(to(destination, tid))
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    downloads = sum(1 for r in assemblyai_connection.requests if r.kind == "download")

    run(to(destination, tid))

    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    assert sum(1 for r in assemblyai_connection.requests if r.kind == "download") == downloads


def test_a_cut_short_download_leaves_nothing_on_file(assemblyai_connection: Emulator, tmp_path: Path) -> None:
    """The stream ends early with no length announced and a wrong MD5: nothing may become visible."""
    tid = assemblyai_connection.add_transcript(
        params=PARAMS, faults=Faults(unknown_length=True, short_body_after=5000, short_bodies=99)
    )
    with pytest.raises(RedactedAudioIntegrityError):
        run(to(f"file://{tmp_path}/a.wav", tid, max_download_attempts=1))
    assert list(tmp_path.iterdir()) == []


def test_a_killed_attempt_on_file_is_completed_by_the_rerun(
    assemblyai_connection: Emulator, tmp_path: Path
) -> None:
    tid = assemblyai_connection.add_transcript(params=PARAMS)
    run(to(f"file://{tmp_path}/a.wav", tid, subtitle_formats=["srt"]))
    (tmp_path / "a.manifest.json").unlink()  # what a kill before the manifest leaves
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}

    run(to(f"file://{tmp_path}/a.wav", tid))

    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert sorted(after) == sorted(f"a{s}" for s in (*SUFFIXES, AUDIO_DIGEST))
    assert {name: after[name] for name in before} == before  # the audio, JSON and SRT were kept as they were


def test_another_file_at_the_destination_is_left_untouched(
    assemblyai_connection: Emulator, tmp_path: Path
) -> None:
    tid = assemblyai_connection.add_transcript(params=PARAMS)
    (tmp_path / "a.wav").write_bytes(b"RIFF someone else's audio")
    with pytest.raises(AssemblyAIFinalError, match="left untouched"):
        run(to(f"file://{tmp_path}/a.wav", tid))
    assert (tmp_path / "a.wav").read_bytes() == b"RIFF someone else's audio"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


def test_the_record_commits_only_whole_files(assemblyai_connection: Emulator, store: Store) -> None:
    tid = assemblyai_connection.add_transcript(params=PARAMS)
    manifest = run(to(store.uri("calls-a.wav"), tid))
    assert manifest.endswith("/calls-a.manifest.json")
    assert store.names() == {f"calls-a{s}" for s in (*SUFFIXES, AUDIO_DIGEST)}
    assert store.cat("calls-a.wav") == assemblyai_connection.redacted_audio(tid)

    cut = assemblyai_connection.add_transcript(
        params=PARAMS, faults=Faults(unknown_length=True, short_body_after=5000, short_bodies=99)
    )
    with pytest.raises(RedactedAudioIntegrityError):
        run(to(store.uri("calls-b.wav"), cut, max_download_attempts=1))
    assert not any(name.startswith("calls-b") for name in store.names())

    # Every byte written to the store, then the MD5 check at the end fails: still nothing shows.
    corrupt = assemblyai_connection.add_transcript(params=PARAMS)
    assemblyai_connection.corrupt_redacted_audio(corrupt, -10)
    with pytest.raises(RedactedAudioIntegrityError, match="MD5"):
        run(to(store.uri("calls-c.wav"), corrupt, max_download_attempts=1))
    assert not any(name.startswith(("calls-c", ".calls-c")) for name in store.names())


def test_a_rerun_writes_nothing_twice_and_another_file_is_left_untouched(
    assemblyai_connection: Emulator, store: Store
) -> None:
    tid = assemblyai_connection.add_transcript(params=PARAMS)
    run(to(store.uri("a.wav"), tid))
    before = store.versions()
    downloads = sum(1 for r in assemblyai_connection.requests if r.kind == "download")

    run(to(store.uri("a.wav"), tid))

    assert store.versions() == before
    assert sum(1 for r in assemblyai_connection.requests if r.kind == "download") == downloads
    other = assemblyai_connection.add_transcript(params=PARAMS)
    store.put("b.wav", b"RIFF someone else's audio")
    with pytest.raises(AssemblyAIFinalError, match="left untouched"):
        run(to(store.uri("b.wav"), other))
    assert store.cat("b.wav") == b"RIFF someone else's audio"
    assert {name for name in store.names() if name.startswith("b.")} == {"b.wav"}


def test_the_purge_of_a_file_archive_needs_its_complete_record(
    assemblyai_connection: Emulator, tmp_path: Path
) -> None:
    tid, other = (assemblyai_connection.add_transcript(params=PARAMS) for _ in range(2))
    manifest = run(to(f"file://{tmp_path}/a.wav", tid))
    run(to(f"file://{tmp_path}/b.wav", other))

    def purge(archive_uri: str) -> None:
        AssemblyAIDeleteTranscriptOperator(
            task_id="delete", transcript_id=tid, archive_uri=archive_uri
        ).execute(cast("Context", {}))

    refusals = {
        f"file://{tmp_path}/a.wav": "only a record's manifest",  # audio alone keeps no transcript id
        f"file://{tmp_path}/b.manifest.json": f"record of transcript {other}",
        f"file://{tmp_path}/nothing.manifest.json": "there is nothing at",
    }
    for archive_uri, reason in refusals.items():
        with pytest.raises(AssemblyAIFinalError, match=reason):
            purge(archive_uri)
    (tmp_path / "a.vtt").unlink()  # a record that lost a file
    with pytest.raises(AssemblyAIFinalError, match=r"a\.vtt is missing"):
        purge(manifest)
    assert not assemblyai_connection.deleted(tid)

    (tmp_path / "a.manifest.json").unlink()  # as a killed attempt leaves it: no manifest yet
    with pytest.raises(AssemblyAIFinalError, match="there is nothing at"):
        purge(manifest)
    run(to(f"file://{tmp_path}/a.wav", tid))  # the re-run completes the record
    purge(manifest)
    assert assemblyai_connection.deleted(tid)


def test_the_purge_compares_each_files_digest_not_its_size(
    assemblyai_connection: Emulator, tmp_path: Path
) -> None:
    tid = assemblyai_connection.add_transcript(params=PARAMS)
    manifest = run(to(f"file://{tmp_path}/a.wav", tid))
    audio = (tmp_path / "a.wav").read_bytes()
    (tmp_path / "a.wav").write_bytes(audio[:-4] + b"\xff" * 4)  # the same size, other bytes
    purge = AssemblyAIDeleteTranscriptOperator(task_id="delete", transcript_id=tid, archive_uri=manifest)

    with pytest.raises(AssemblyAIFinalError, match=r"a\.wav holds bytes whose SHA-256"):
        purge.execute(cast("Context", {}))

    assert not assemblyai_connection.deleted(tid)
    (tmp_path / "a.wav").write_bytes(audio)
    purge.execute(cast("Context", {}))
    assert assemblyai_connection.deleted(tid)


@pytest.mark.parametrize("etag_style", ["multipart", "none"])
@pytest.mark.parametrize("where", ["file", "memory"])
def test_a_rerun_recognises_its_audio_by_content_whatever_the_source_etag(
    assemblyai_connection: Emulator, tmp_path: Path, etag_style: str, where: str
) -> None:
    tid = assemblyai_connection.add_transcript(params=PARAMS, faults=Faults(etag_style=etag_style))
    if where == "file":
        audio_uri, manifest_uri = f"file://{tmp_path}/a.wav", f"file://{tmp_path}/a.manifest.json"
    else:
        store = memory_store()
        audio_uri, manifest_uri = store.uri("a.wav"), store.uri("a.manifest.json")
    manifest = run(to(audio_uri, tid))
    assert ObjectStoragePath(manifest) == ObjectStoragePath(manifest_uri)
    ObjectStoragePath(manifest).unlink()  # what a kill before the manifest leaves
    seen = sum(1 for r in assemblyai_connection.requests if r.kind == "download")

    assert run(to(audio_uri, tid)) == manifest

    assert sum(1 for r in assemblyai_connection.requests if r.kind == "download") == seen
    listed = json.loads(ObjectStoragePath(manifest).read_bytes())["files"]["audio"]
    assert listed["sha256"] == hashlib.sha256(assemblyai_connection.redacted_audio(tid)).hexdigest()
    assert "source_md5" not in listed
    # The audio alone (no record) is recognised the same way.
    audio_alone = AssemblyAIRedactedAudioToObjectStorageOperator(
        task_id="archive", transcript_id=tid, destination=audio_uri
    )
    assert ObjectStoragePath(run(audio_alone)) == ObjectStoragePath(audio_uri)
    assert sum(1 for r in assemblyai_connection.requests if r.kind == "download") == seen


def test_a_file_uri_with_two_slashes_is_refused(
    assemblyai_connection: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tid = assemblyai_connection.add_transcript(params=PARAMS)

    with pytest.raises(AssemblyAIInvalidInputError, match=r"destination .*file:///archive/x\.wav"):
        run(to("file://archive/x.wav", tid))

    assert list(tmp_path.iterdir()) == []
    assert [r for r in assemblyai_connection.requests if r.kind == "download"] == []


def test_a_manifest_without_the_audios_sha256_is_not_enough_to_purge(
    assemblyai_connection: Emulator, tmp_path: Path
) -> None:
    tid = assemblyai_connection.add_transcript(params=PARAMS)
    manifest = run(to(f"file://{tmp_path}/a.wav", tid))
    document = json.loads((tmp_path / "a.manifest.json").read_text())
    del document["files"]["audio"]["sha256"]  # as manifests listed the audio before
    (tmp_path / "a.manifest.json").write_text(json.dumps(document))
    purge = AssemblyAIDeleteTranscriptOperator(task_id="delete", transcript_id=tid, archive_uri=manifest)

    with pytest.raises(AssemblyAIFinalError, match=r"a\.wav has no SHA-256 in the manifest"):
        purge.execute(cast("Context", {}))

    assert not assemblyai_connection.deleted(tid)
