"""The redacted time ranges of a transcript, read from its redacted words.

AssemblyAI replaces each redacted word by its policy's tag (``[PERSON_NAME]``, with
``redact_pii_sub="entity_name"``) or by ``#`` characters (``"hash"``) and keeps the word's timing;
the redacted audio is beeped (or silenced) over those words. A run of redacted words with the same
policy, with no spoken word between them, is one span. Each span keeps the words' own edges and,
for whoever mutes or checks around it, the same edges widened by a guard band (word timings are not
exact: utterance starts about 250 ms early were measured on the real API).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError

#: A word AssemblyAI redacted with ``redact_pii_sub="entity_name"``: its policy's tag.
_TAG = re.compile(r"^\[([A-Z][A-Z0-9_]*)\]$")
#: A word AssemblyAI redacted with ``redact_pii_sub="hash"``.
_HASHED = re.compile(r"^#+$")
#: The policy of a hashed word when neither the request nor the entities tell it.
UNKNOWN_POLICY = "unknown"
#: Default guard band: milliseconds added before and after every span's words.
DEFAULT_GUARD_MS = 150


@dataclass(frozen=True)
class RedactedSpan:
    """One redacted time range, in milliseconds of the audio."""

    policy: str
    #: Start of the first and end of the last redacted word.
    start_ms: int
    end_ms: int
    #: The same range widened by the guard band (never before 0).
    guarded_start_ms: int
    guarded_end_ms: int
    words: int

    def to_json(self) -> dict[str, Any]:
        """Return the span as the record stores it."""
        return asdict(self)


def redacted_policy(
    text: str, *, requested: list[str], entities: list[dict[str, Any]], start: int
) -> str | None:
    """Return the policy of a redacted word, or None when the word was not redacted."""
    tag = _TAG.match(text)
    if tag:
        return tag.group(1).lower()
    if not _HASHED.match(text):
        return None
    if len(requested) == 1:
        return requested[0]
    for entity in entities:
        if _int(entity.get("start")) <= start < _int(entity.get("end")) and entity.get("entity_type"):
            return str(entity["entity_type"])
    return UNKNOWN_POLICY


def redacted_spans(transcript: dict[str, Any], *, guard_ms: int = DEFAULT_GUARD_MS) -> list[RedactedSpan]:
    """Return the redacted spans of a completed transcript (its ``words``), in time order.

    :param guard_ms: milliseconds added before and after each span (``guarded_*``); 0 or more.
    :raises AssemblyAIInvalidInputError: ``guard_ms`` is negative or not a whole number.
    """
    if isinstance(guard_ms, bool) or not isinstance(guard_ms, int) or guard_ms < 0:
        raise AssemblyAIInvalidInputError(
            f"guard_ms must be a whole number of milliseconds, 0 or more, got {guard_ms!r}."
        )
    requested = [str(p) for p in transcript.get("redact_pii_policies") or []]
    entities = [e for e in transcript.get("entities") or [] if isinstance(e, dict)]
    spans: list[RedactedSpan] = []
    current: tuple[str, int, int, int] | None = None  # policy, start, end, words
    for word in transcript.get("words") or []:
        start, end = _int(word.get("start")), _int(word.get("end"))
        policy = redacted_policy(
            str(word.get("text", "")), requested=requested, entities=entities, start=start
        )
        if current is not None and policy == current[0]:
            current = (current[0], current[1], max(current[2], end), current[3] + 1)
            continue
        if current is not None:
            spans.append(_span(current, guard_ms))
        current = (policy, start, end, 1) if policy is not None else None
    if current is not None:
        spans.append(_span(current, guard_ms))
    return spans


def _span(run: tuple[str, int, int, int], guard_ms: int) -> RedactedSpan:
    policy, start, end, words = run
    return RedactedSpan(
        policy=policy,
        start_ms=start,
        end_ms=end,
        guarded_start_ms=max(0, start - guard_ms),
        guarded_end_ms=end + guard_ms,
        words=words,
    )


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
