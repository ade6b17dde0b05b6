"""The batch library: listing a source, planning a run from the archive, refusing a bad source."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_assemblyai.batch import (
    MARKER_SUFFIX,
    archive_key,
    list_recordings,
    open_source,
    plan_recordings,
)
from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError


def recordings_under(tmp_path: Path) -> Path:
    source = tmp_path / "calls"
    (source / "team-a").mkdir(parents=True)
    for name in ("b.wav", "A.MP3", "notes.txt", "team-a/c.flac"):
        (source / name).write_bytes(b"audio")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.wav").write_bytes(b"audio")
    (source / "leak.wav").symlink_to(outside / "secret.wav")
    (source / "linked").symlink_to(outside, target_is_directory=True)
    return source


def test_a_local_source_lists_its_audio_files_sorted_and_skips_every_symbolic_link(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = recordings_under(tmp_path)

    root, local_dir = open_source(f" {source} ", "aws_default")
    found = list_recordings(root, local_dir)

    assert local_dir == str(source)
    assert [relative for relative, _ in found] == ["A.MP3", "b.wav", "team-a/c.flac"]
    assert [str(path) for _, path in found] == [f"file://{source / r}" for r, _ in found]
    assert f"Skipped {source / 'leak.wav'}: a symbolic link" in caplog.text
    assert f"Skipped {source / 'linked'}: a symbolic link" in caplog.text


def test_the_plan_submits_what_is_not_archived_and_purges_what_kept_its_marker() -> None:
    recordings = [(name, ObjectStoragePath(f"file:///calls/{name}")) for name in ("a.wav", "b.wav", "c.wav")]
    existing = {
        archive_key("redacted/", "a.wav", "mp3"),  # archived and purged
        archive_key("redacted/", "b.wav", "mp3"),  # archived, its transcript never purged
        archive_key("redacted/", "b.wav", "mp3") + MARKER_SUFFIX,
        archive_key("redacted/", "c.wav", "mp3") + MARKER_SUFFIX,  # submitted, not archived yet
    }

    plan = plan_recordings(recordings, existing, bucket="bkt", key_prefix="redacted/", audio_format="mp3")

    assert plan.todo == [
        {
            "audio_path": recordings[2][1],
            "s3_key": "redacted/c.wav.redacted.mp3",
            "marker": "s3://bkt/redacted/c.wav.redacted.mp3.submission.json",
        }
    ]
    assert plan.unpurged == ["redacted/b.wav.redacted.mp3"]
    assert plan.skipped == 2


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("calls/2026", "neither an absolute local directory nor a URL"),
        ("/no/such/folder", "is not a directory or prefix that exists"),
    ],
)
def test_a_source_that_is_not_a_directory_is_refused_naming_the_fix(source: str, expected: str) -> None:
    with pytest.raises(AssemblyAIInvalidInputError, match=expected):
        open_source(source, None)
