"""The emulator's words, text and subtitles match its redacted audio: the PII sits where the beeps are."""

from __future__ import annotations

import httpx
import pytest

from airflow_assemblyai.testing.audio import PII_SPANS
from airflow_assemblyai.testing.emulator import Emulator

REDACT_NAMES_AND_PHONES = {
    "redact_pii": True,
    "redact_pii_audio": True,
    "redact_pii_policies": ["person_name", "phone_number"],
    "redact_pii_sub": "entity_name",
}


@pytest.fixture
def client(assemblyai_emulator: Emulator) -> httpx.Client:
    return httpx.Client(
        base_url=assemblyai_emulator.base_url, headers={"Authorization": assemblyai_emulator.api_key}
    )


def test_redacted_words_fall_exactly_in_the_beeped_spans(
    assemblyai_emulator: Emulator, client: httpx.Client
) -> None:
    tid = assemblyai_emulator.add_transcript(params={**REDACT_NAMES_AND_PHONES, "speaker_labels": True})
    body = client.get(f"/v2/transcript/{tid}").json()
    duration_ms = body["audio_duration"] * 1000
    redacted = [w for w in body["words"] if w["text"].startswith("[")]
    assert {w["text"] for w in redacted} == {"[PERSON_NAME]", "[PHONE_NUMBER]"}
    for word in body["words"]:
        middle = (word["start"] + word["end"]) / 2 / duration_ms
        in_span = any(a <= middle < b for a, b in PII_SPANS)
        assert word["text"].startswith("[") == in_span, word
    assert "Jane" not in body["text"]
    assert "[PERSON_NAME]" in body["text"]
    assert [u["speaker"] for u in body["utterances"]] == ["A", "B"]
    assert " ".join(u["text"] for u in body["utterances"]) == body["text"]


def test_unredacted_extras_carry_the_pii_as_the_real_api_does(
    assemblyai_emulator: Emulator, client: httpx.Client
) -> None:
    params = {**REDACT_NAMES_AND_PHONES, "entity_detection": True, "redact_pii_return_unredacted": True}
    body = client.get(f"/v2/transcript/{assemblyai_emulator.add_transcript(params=params)}").json()
    assert any("Jane" in e["text"] for e in body["entities"] if e["entity_type"] == "person_name")
    assert "Jane" in body["unredacted_text"]


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles_are_built_from_the_redacted_words(
    assemblyai_emulator: Emulator, client: httpx.Client, fmt: str
) -> None:
    tid = assemblyai_emulator.add_transcript(params=REDACT_NAMES_AND_PHONES)
    words = client.get(f"/v2/transcript/{tid}").json()["words"]
    answer = client.get(f"/v2/transcript/{tid}/{fmt}", params={"chars_per_caption": 20})
    assert answer.status_code == 200
    text = answer.text
    assert text.startswith("1\n00:00:00,000 --> " if fmt == "srt" else "WEBVTT\n\n00:00:00.000 --> ")
    assert "[PERSON_NAME]" in text
    assert "Jane" not in text
    cue_lines = [line for line in text.splitlines() if line and "-->" not in line and not line.isdigit()]
    cue_lines = [line for line in cue_lines if line != "WEBVTT"]
    assert " ".join(cue_lines) == " ".join(w["text"] for w in words)
    assert all(len(line) <= 20 or " " not in line for line in cue_lines)


def test_subtitles_wait_for_completion(assemblyai_emulator: Emulator, client: httpx.Client) -> None:
    tid = assemblyai_emulator.add_transcript(status="processing", params=REDACT_NAMES_AND_PHONES)
    assert client.get(f"/v2/transcript/{tid}/srt").status_code == 400
