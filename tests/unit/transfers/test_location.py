"""Archive locations: s3:// split literally, URIs percent-encoded, objects recognised by metadata."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_assemblyai.archive.location import archive_uri, parse_archive_uri, split_s3_location
from airflow_assemblyai.archive.metadata import ArchivedObject
from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError


@pytest.mark.parametrize(
    ("s3_bucket", "s3_key", "expected"),
    [
        (None, "s3://b-1/calls/a#1.wav", ("b-1", "calls/a#1.wav")),
        (None, "s3://b-1/calls/a?x=1.wav", ("b-1", "calls/a?x=1.wav")),
        (None, "s3://b-1/calls//a.wav", ("b-1", "calls//a.wav")),
        (None, "s3://b-1/calls/a%20b.wav", ("b-1", "calls/a%20b.wav")),
        ("b-1", "s3://b-1/a.wav", ("b-1", "a.wav")),
        ("b-1", "calls/a#1.wav", ("b-1", "calls/a#1.wav")),
        # A leading "/" is part of the key in both spellings.
        (None, "s3://b-1//a.wav", ("b-1", "/a.wav")),
        ("b-1", "/a.wav", ("b-1", "/a.wav")),
    ],
)
def test_keys_are_taken_literally(s3_bucket: str | None, s3_key: str, expected: tuple[str, str]) -> None:
    assert split_s3_location(s3_bucket, s3_key) == expected


@pytest.mark.parametrize(
    ("s3_bucket", "s3_key", "field"),
    [
        ("b-1", "", "s3_key"),
        (None, "a.wav", "s3_bucket"),
        ("b-1", "s3://b-2/a.wav", "s3_bucket"),
        (None, "s3://b-1/", "s3_key"),
        (None, "s3://b-1", "s3_key"),
    ],
)
def test_bad_locations_name_the_field(s3_bucket: str | None, s3_key: str, field: str) -> None:
    with pytest.raises(AssemblyAIInvalidInputError, match=field):
        split_s3_location(s3_bucket, s3_key)


@pytest.mark.parametrize(
    ("key", "uri"),
    [
        ("calls/a.wav", "s3://b-1/calls/a.wav"),
        ("calls/a#1.wav", "s3://b-1/calls/a%231.wav"),
        ("calls/a?x=1.wav", "s3://b-1/calls/a%3Fx=1.wav"),
        ("calls/100% sure.wav", "s3://b-1/calls/100%25%20sure.wav"),
        ("/calls//a+b.wav", "s3://b-1//calls//a+b.wav"),
        ("Anrufe/Müller.wav", "s3://b-1/Anrufe/M%C3%BCller.wav"),
    ],
)
def test_the_uri_encodes_what_a_uri_cannot_carry_and_parses_back(key: str, uri: str) -> None:
    assert archive_uri("b-1", key) == uri
    assert parse_archive_uri(uri) == ("b-1", key)


@pytest.mark.parametrize("uri", ["", "b-1/a.wav", "s3://b-1", "s3:///a.wav", "https://b-1/a.wav"])
def test_a_bad_archive_uri_names_the_field(uri: str) -> None:
    with pytest.raises(AssemblyAIInvalidInputError, match="archive_uri"):
        parse_archive_uri(uri)


def head(metadata: dict[str, str], size: int = 100) -> dict[str, Any]:
    return {"ContentLength": size, "Metadata": metadata}


def test_metadata_is_matched_without_regard_to_case() -> None:
    found = ArchivedObject.from_head(
        head({"Assemblyai-Transcript-Id": "t-1", "ASSEMBLYAI-SOURCE-LENGTH": "100"})
    )

    assert found.holds("t-1")


def test_an_object_without_a_recorded_length_is_recognised_by_its_transcript_id() -> None:
    written_by_0_1_0 = head({"assemblyai-transcript-id": "t-1", "assemblyai-source-length": ""})

    assert ArchivedObject.from_head(written_by_0_1_0).holds("t-1")


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        ({}, "an object this provider did not write"),
        ({"assemblyai-transcript-id": "t-2", "assemblyai-source-length": "100"}, "transcript t-2"),
        ({"assemblyai-transcript-id": "t-1", "assemblyai-source-length": "999"}, "recorded as 999 bytes"),
    ],
    ids=["foreign", "another-transcript", "wrong-length"],
)
def test_other_objects_are_not_this_transcripts_audio(metadata: dict[str, str], words: str) -> None:
    found = ArchivedObject.from_head(head(metadata))

    assert not found.holds("t-1")
    assert words in found.describe("t-1")


MD5 = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("metadata", "source_md5"),
    [
        # This version: the verified MD5 has its own key; a KMS source's 32-hex ETag is not one.
        ({"assemblyai-record-role": "audio", "assemblyai-source-md5": MD5}, MD5),
        ({"assemblyai-record-role": "audio", "assemblyai-source-etag": MD5}, None),
        # Written before the role had a key: the source's ETag when it is 32 hex digits.
        ({"assemblyai-source-etag": MD5}, MD5),
        ({"assemblyai-source-etag": f"{MD5}-3"}, None),
    ],
)
def test_the_md5_to_compare_is_one_the_bytes_were_verified_against(
    metadata: dict[str, str], source_md5: str | None
) -> None:
    assert ArchivedObject.from_head(
        {"Metadata": {"assemblyai-transcript-id": "t-1", **metadata}}
    ).source_md5 == (source_md5)


@pytest.mark.parametrize("role", ["transcript", "srt", "vtt", "manifest"])
def test_only_the_audio_role_passes_as_the_audio(role: str) -> None:
    found = ArchivedObject.from_head(
        {"ContentLength": 12, "Metadata": {"assemblyai-transcript-id": "t-1", "assemblyai-record-role": role}}
    )
    assert not found.holds("t-1")
    assert found.describe("t-1") == f"the {role} file of the record of transcript t-1"
