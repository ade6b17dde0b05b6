"""Redacted spans read from a transcript's redacted words: merged runs, their policy, the guard band."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_assemblyai.archive.spans import UNKNOWN_POLICY, RedactedSpan, redacted_spans
from airflow_assemblyai.testing.transcript import spoken_words, transcript_fields


def word(text: str, start: int, end: int) -> dict[str, Any]:
    return {"text": text, "start": start, "end": end}


def test_adjacent_words_of_one_policy_are_one_span_and_a_spoken_word_splits_them() -> None:
    transcript = {
        "words": [
            word("call", 0, 300),
            word("[PERSON_NAME]", 300, 600),
            word("[PERSON_NAME]", 610, 900),
            word("at", 900, 1000),
            word("[PHONE_NUMBER]", 1000, 1400),
            word("[PERSON_NAME]", 1400, 1700),
        ]
    }
    spans = redacted_spans(transcript, guard_ms=100)
    assert spans == [
        RedactedSpan("person_name", 300, 900, 200, 1000, 2),
        RedactedSpan("phone_number", 1000, 1400, 900, 1500, 1),
        RedactedSpan("person_name", 1400, 1700, 1300, 1800, 1),
    ]


def test_the_guard_band_never_starts_before_zero_and_must_be_a_whole_number() -> None:
    spans = redacted_spans({"words": [word("[EMAIL_ADDRESS]", 50, 400)]}, guard_ms=200)
    assert (spans[0].guarded_start_ms, spans[0].guarded_end_ms) == (0, 600)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="guard_ms must be a whole number"):
            redacted_spans({"words": []}, guard_ms=bad)  # type: ignore[arg-type]


def test_the_spans_of_a_transcript_match_the_words_that_were_pii() -> None:
    params = {
        "redact_pii": True,
        "redact_pii_sub": "entity_name",
        "redact_pii_policies": ["person_name", "phone_number"],
    }
    transcript = {**params, **transcript_fields(10.0, params)}
    spans = redacted_spans(transcript, guard_ms=0)
    pii = [w for w in spoken_words(10.0) if w.policy]
    assert [s.policy for s in spans] == ["person_name", "phone_number"]
    for span in spans:
        words = [w for w in pii if w.policy == span.policy]
        assert (span.start_ms, span.end_ms, span.words) == (words[0].start, words[-1].end, len(words))


def test_hashed_words_take_the_one_requested_policy_or_an_entity_or_unknown() -> None:
    hashed = {"words": [word("####", 100, 400), word("ok", 400, 500), word("###", 500, 800)]}
    assert [s.policy for s in redacted_spans({**hashed, "redact_pii_policies": ["person_name"]})] == [
        "person_name",
        "person_name",
    ]
    entities = [{"entity_type": "phone_number", "start": 500, "end": 800}]
    both = {**hashed, "redact_pii_policies": ["person_name", "phone_number"], "entities": entities}
    assert [s.policy for s in redacted_spans(both)] == [UNKNOWN_POLICY, "phone_number"]


def test_a_transcript_without_redacted_words_has_no_spans() -> None:
    params: dict[str, Any] = {"redact_pii": False}
    assert redacted_spans(transcript_fields(5.0, params)) == []
    assert redacted_spans({"words": None}) == []
