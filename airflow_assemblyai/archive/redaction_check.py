"""Prove a record's redaction before its manifest is written: the spans, and what listening found in them.

The redacted spans come from the transcript's words (:mod:`.spans`); the audio is the archived file,
read back from the store (what is stored is what is proven), decoded block by block
(:mod:`.listening`, imported only here and only when a check runs, so parsing a DAG never imports
numpy). Each span is judged on the words' own edges with a tolerance; the guard band is recorded
beside it, never checked: widened into the neighbouring speech it would fail a correct beep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_assemblyai.archive.spans import DEFAULT_GUARD_MS, redacted_spans
from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError, RedactionNotProvenError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_assemblyai.archive.sinks import Sink
    from airflow_assemblyai.archive.spans import RedactedSpan

#: ``block``: a failing range stops the record (no manifest); ``warn``: the manifest records it.
CHECK_MODES = ("block", "warn")
#: How far (ms) a range may sit off its beep: word timings run about 250 ms early on the real API.
DEFAULT_TOLERANCE_MS = 300


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


def not_proven(evidence: RedactionEvidence, *, where: str, transcript_id: str) -> RedactionNotProvenError:
    """Return the block-mode error: the failing ranges, what stays where, and that a re-run checks again."""
    return RedactionNotProvenError(
        f"The redacted audio of transcript {transcript_id} at {where} still sounds like speech in "
        f"{sum(1 for v in evidence.check['verdicts'] if v['verdict'] != 'pass')} redacted range(s): "
        f"{evidence.failures()}. The audio stays where it was written and nothing was purged: no manifest "
        "was written, so the delete task refuses this record. Listen to the ranges, and ask AssemblyAI to "
        "render the redaction again (a new transcript) if they speak; a re-run of this task checks the "
        "stored audio again. To archive it anyway with the failing verdicts in the manifest, set "
        "redaction_check='warn'."
    )
