"""The archived transcript JSON keeps the allow-list only, down to the keys of each word and utterance."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from airflow_assemblyai.archive.record import (
    ALLOWED_FIELDS,
    UTTERANCE_KEYS,
    WORD_KEYS,
    Manifest,
    RecordFile,
    RecordKeys,
    encode_json,
    manifest_document,
    transcript_document,
)
from airflow_assemblyai.exceptions import AssemblyAIUnexpectedResponseError

WHEN = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
WORD = {"text": "[PERSON_NAME]", "start": 0, "end": 400, "confidence": 0.9, "speaker": "A", "channel": "1"}
TRANSCRIPT = {
    "id": "5551722-f677-48a6-8f8b-3d8e9d1c0d4a",
    "status": "completed",
    "audio_url": "https://bucket.s3.amazonaws.com/a.wav?Signature=secret",
    "webhook_url": "https://hooks.example/x?token=secret",
    "webhook_auth_header_value": "secret",
    "text": "hello [PERSON_NAME]",
    "words": [WORD],
    "utterances": [
        {"speaker": "A", "text": "hi", "start": 0, "end": 1, "confidence": 1, "words": [WORD], "x": 1}
    ],
    "entities": [{"entity_type": "person_name", "text": "Jane Doe"}],
    "unredacted_text": "hello Jane Doe",
    "summary": "Jane called",
    "audio_duration": 3,
    "speech_model_used": "universal-2",
    "redact_pii": True,
    "redact_pii_policies": ["person_name"],
}


def test_only_allowed_fields_survive_at_every_level() -> None:
    document = transcript_document(TRANSCRIPT, archived_at=WHEN)
    assert set(document) <= {*ALLOWED_FIELDS, "schema", "archived_at"}
    assert {"id", "text", "words", "utterances", "audio_duration", "speech_model_used", "redact_pii"} <= set(
        document
    )
    assert set(document["words"][0]) == set(WORD_KEYS)
    assert set(document["utterances"][0]) <= set(UTTERANCE_KEYS)
    assert set(document["utterances"][0]["words"][0]) == set(WORD_KEYS)
    encoded = encode_json(document).decode()
    assert "secret" not in encoded
    assert "Jane" not in encoded
    assert document["archived_at"] == "2026-05-01T12:00:00+00:00"


def test_a_named_field_is_kept_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        document = transcript_document(TRANSCRIPT, archived_at=WHEN, extra_fields=["entities", "text"])
    assert document["entities"] == TRANSCRIPT["entities"]
    assert "unredacted_text" not in document
    assert "entities" in caplog.text
    assert "may hold PII" in caplog.text


def test_record_keys_sit_beside_the_audio() -> None:
    keys = RecordKeys.beside("calls/2026/x.WAV")
    assert (keys.transcript, keys.srt, keys.vtt, keys.manifest) == (
        "calls/2026/x.transcript.json",
        "calls/2026/x.srt",
        "calls/2026/x.vtt",
        "calls/2026/x.manifest.json",
    )
    assert RecordKeys.beside("raw").manifest == "raw.manifest.json"


def test_a_manifest_reads_back_and_a_foreign_json_is_refused() -> None:
    files = [
        RecordFile("audio", "a.wav", 10, "audio/wav", source_md5="0" * 32),
        RecordFile("srt", "a.srt", 2, "x", "ab"),
    ]
    data = encode_json(manifest_document("t-1", files, archived_at=WHEN))
    manifest = Manifest.parse(data, where="s3://b/a.manifest.json")
    assert manifest.transcript_id == "t-1"
    assert manifest.files["audio"].size == 10
    assert manifest.files["srt"].sha256 == "ab"
    with pytest.raises(AssemblyAIUnexpectedResponseError, match="not a record manifest"):
        Manifest.parse(json.dumps({"files": {}}).encode(), where="s3://b/k")
