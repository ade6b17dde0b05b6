"""Prove a record's redaction before its manifest is written: the spans, and what listening found in them.

An audio-only archive (no record, so no manifest) keeps the same evidence beside its audio, in
``x.wav.redaction.json``, bound to the audio's SHA-256: the purge asks for it as it asks a record's
manifest for its ``redaction_check``.

The redacted spans come from the transcript's words (:mod:`.spans`); the audio is the archived file,
read back from the store (what is stored is what is proven), decoded block by block
(:mod:`.listening`, imported only here and only when a check runs, so parsing a DAG never imports
numpy). Each span is judged on the words' own edges with a tolerance; the guard band is recorded
beside it, never checked: widened into the neighbouring speech it would fail a correct beep.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_assemblyai.archive.metadata import META_RECORD_ROLE, META_TRANSCRIPT_ID
from airflow_assemblyai.archive.record import MANIFEST_MAX_BYTES, encode_json
from airflow_assemblyai.archive.spans import DEFAULT_GUARD_MS, redacted_spans
from airflow_assemblyai.exceptions import (
    AssemblyAIFinalError,
    AssemblyAIInvalidInputError,
    RedactionNotProvenError,
)
from airflow_assemblyai.redaction import DELETED_AUDIO_URL

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_assemblyai.archive.sinks import Sink
    from airflow_assemblyai.archive.spans import RedactedSpan

#: ``block``: a failing range stops the record (no manifest); ``warn``: the manifest records it.
CHECK_MODES = ("block", "warn")
#: How far (ms) a range may sit off its beep: word timings run about 250 ms early on the real API.
DEFAULT_TOLERANCE_MS = 300
#: The evidence an audio-only archive keeps beside its audio.
EVIDENCE_SCHEMA = "airflow-assemblyai/redaction-evidence/1"
EVIDENCE_SUFFIX = ".redaction.json"
EVIDENCE_ROLE = "redaction"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RedactionCheck:
    """How a record's redaction is proven (see the transfer's ``redaction_*`` arguments)."""

    mode: str = "block"
    guard_ms: int = DEFAULT_GUARD_MS
    tolerance_ms: int = DEFAULT_TOLERANCE_MS

    @classmethod
    def of(cls, *, mode: object, guard_ms: object, tolerance_ms: object) -> RedactionCheck:
        """Return the check the arguments describe; refuse a wrong one naming the argument and the fix."""
        if mode not in CHECK_MODES:
            raise AssemblyAIInvalidInputError(
                "redaction_check must be 'block' (the default: a range that still sounds like speech fails "
                "the task and no manifest is written) or 'warn' (the manifest records the failing "
                f"verdicts), got {mode!r}."
            )
        for name, value in (("redaction_guard_ms", guard_ms), ("redaction_tolerance_ms", tolerance_ms)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise AssemblyAIInvalidInputError(
                    f"{name} must be a whole number of milliseconds, 0 or more, got {value!r}."
                )
        return cls(str(mode), int(guard_ms), int(tolerance_ms))  # type: ignore[call-overload]


@dataclass(frozen=True)
class RedactionEvidence:
    """What the manifest records: the spans, and the check's verdict on each."""

    spans: list[RedactedSpan]
    check: dict[str, Any]

    @property
    def passed(self) -> bool:
        """True when every span was shown beeped or silenced (and for no spans)."""
        return bool(self.check["passed"])

    def manifest_fields(self) -> dict[str, Any]:
        """Return the manifest's ``redacted_spans`` and ``redaction_check``."""
        return {"redacted_spans": [s.to_json() for s in self.spans], "redaction_check": self.check}

    def failures(self) -> str:
        """Describe the failing ranges: times, policy, why."""
        return "; ".join(
            f"{v['start_ms']}-{v['end_ms']} ms ({v['label']}): {v['reason']}"
            for v in self.check["verdicts"]
            if v["verdict"] != "pass"
        )


def check_redaction(
    store: Sink, audio_key: str, transcript: Mapping[str, Any], options: RedactionCheck
) -> RedactionEvidence:
    """Listen to the audio stored at ``audio_key`` over the transcript's redacted spans; return the evidence.

    Nothing is read when the transcript has no redacted words: the evidence is then ``ranges: 0``, passed.
    """
    if transcript.get("audio_url") == DELETED_AUDIO_URL:
        raise AssemblyAIFinalError(
            f"Transcript {transcript.get('id')} was deleted at AssemblyAI: its words are gone, so nothing "
            f"can show where its PII was in {store.uri(audio_key)}, and no evidence is written (the purge "
            "refuses it). The audio stays where it was written; listen to it by hand, and give the delete "
            "task allow_unproven_redaction=True if it must pass."
        )
    spans = redacted_spans(dict(transcript), guard_ms=options.guard_ms)
    check: dict[str, Any] = {
        "mode": options.mode,
        "tolerance_ms": options.tolerance_ms,
        "guard_ms": options.guard_ms,
        "ranges": len(spans),
        "passed": True,
        "verdicts": [],
    }
    if spans:
        from airflow_assemblyai.archive.listening import RedactedRange, listen

        ranges = [RedactedRange(s.start_ms, s.end_ms, s.policy) for s in spans]
        with store.open_read(audio_key) as audio:
            result = listen(audio, ranges, tolerance_ms=options.tolerance_ms)
        check.update(
            passed=result.passed,
            format=result.format,
            sample_rate=result.sample_rate,
            duration_ms=result.duration_ms,
            frame_ms=result.frame_ms,
            verdicts=[v.to_dict() for v in result.verdicts],
        )
    return RedactionEvidence(spans, check)


def not_proven(
    evidence: RedactionEvidence, *, where: str, transcript_id: str, withheld: str = "no manifest was written"
) -> RedactionNotProvenError:
    """Return the block-mode error: the failing ranges, what stays where, and that a re-run checks again.

    :param withheld: what was not written, so that the delete task refuses the archive.
    """
    return RedactionNotProvenError(
        f"The redacted audio of transcript {transcript_id} at {where} still sounds like speech in "
        f"{sum(1 for v in evidence.check['verdicts'] if v['verdict'] != 'pass')} redacted range(s): "
        f"{evidence.failures()}. The audio stays where it was written and nothing was purged: {withheld}, "
        "so the delete task refuses it. Listen to the ranges, and ask AssemblyAI to render the redaction "
        "again (a new transcript) if they speak; a re-run of this task checks the stored audio again. To "
        "archive it anyway with the failing verdicts recorded, set redaction_check='warn'."
    )


def evidence_key(audio_key: str) -> str:
    """Return the key of the evidence beside ``audio_key``: ``x.wav`` gives ``x.wav.redaction.json``."""
    return audio_key + EVIDENCE_SUFFIX


def record_evidence_beside(
    store: Sink,
    audio_key: str,
    evidence: RedactionEvidence,
    *,
    transcript_id: str,
    audio_sha256: str,
    replace: bool,
) -> str:
    """Write the evidence of an audio-only archive beside its audio; return its URI.

    A check run again replaces the evidence of the same transcript; any other file at the key is
    left untouched (and refused) unless ``replace``.

    :raises AssemblyAIFinalError: the key holds something else and ``replace`` is False.
    """
    key = evidence_key(audio_key)
    document = {
        "schema": EVIDENCE_SCHEMA,
        "transcript_id": transcript_id,
        "audio": {"key": audio_key, "sha256": audio_sha256},
        **evidence.manifest_fields(),
    }
    data = encode_json(document)
    metadata = {META_TRANSCRIPT_ID: transcript_id, META_RECORD_ROLE: EVIDENCE_ROLE}
    ours = (
        replace
        or store.find(key) is None
        or _evidence_of(read_evidence_beside(store, audio_key)) == transcript_id
    )
    if not ours:
        raise AssemblyAIFinalError(
            f"{store.uri(key)} already exists and is not the redaction evidence of transcript "
            f"{transcript_id}; it was left untouched. Move it away (the transfer writes the evidence "
            "again) or set replace=True."
        )
    store.put(key, data, content_type="application/json", metadata=metadata, create_only=False)
    log.info("Recorded what listening to %s found, at %s.", store.uri(audio_key), store.uri(key))
    return store.uri(key)


def read_evidence_beside(store: Sink, audio_key: str) -> dict[str, Any] | None:
    """Return the evidence document beside ``audio_key``; None when there is none (or not one we wrote)."""
    key = evidence_key(audio_key)
    found = store.find(key)
    if found is None or found.size > MANIFEST_MAX_BYTES:
        return None
    try:
        document = json.loads(store.read(key, limit=MANIFEST_MAX_BYTES).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("schema") != EVIDENCE_SCHEMA:
        return None
    return document


def _evidence_of(document: dict[str, Any] | None) -> str | None:
    return None if document is None else str(document.get("transcript_id"))
