"""The emulator's transcript content: words, utterances, text and subtitles that match its redacted audio.

The emulator beeps fixed fractions of the audio (:data:`~airflow_assemblyai.testing.audio.PII_SPANS`).
Here the words spoken in those spans are the PII: a name in the first span, a phone number in the
second. A PII word's timing lies within its span (its slot clipped to the span's edges), so every
redacted word is beeped whole, as AssemblyAI beeps over the words it redacts. With ``redact_pii``
they read as the substitution (``[PERSON_NAME]`` or ``####``) in ``text``, ``words``,
``utterances`` and the subtitles, exactly where the audio is beeped; fields AssemblyAI does not
redact (``entities``, ``unredacted_text``) carry the PII in clear, as the real API does, so an
archive that copies them can be caught by a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_assemblyai.testing.audio import PII_SPANS

#: Seconds per spoken word.
WORD_SECONDS = 0.4
_FILLER = [
    "thanks",
    "for",
    "calling",
    "this",
    "is",
    "a",
    "recorded",
    "line",
    "how",
    "can",
    "I",
    "help",
    "you",
    "today",
]
#: The PII spoken in each span of :data:`PII_SPANS`, in order: (policy, words).
_PII = (("person_name", ("Jane", "Doe")), ("phone_number", ("555", "0100")))
DEFAULT_CHARS_PER_CAPTION = 32


@dataclass(frozen=True)
class Word:
    """One spoken word: clear text, its PII policy (if any), and its time in milliseconds."""

    text: str
    start: int
    end: int
    policy: str | None


def spoken_words(duration_seconds: float) -> list[Word]:
    """Return the words of a recording of ``duration_seconds``, PII where the audio is beeped."""
    count = max(len(_PII) * 2 + 2, int(duration_seconds / WORD_SECONDS))
    slot = duration_seconds * 1000 / count
    words: list[Word] = []
    pii_used = [0] * len(_PII)
    filler = 0
    for index in range(count):
        start, end = round(index * slot), round((index + 1) * slot)
        middle = (start + end) / 2 / (duration_seconds * 1000)
        span = next((i for i, (a, b) in enumerate(PII_SPANS) if a <= middle < b), None)
        if span is not None and span < len(_PII):
            policy, texts = _PII[span]
            first, last = (round(f * duration_seconds * 1000) for f in PII_SPANS[span])
            start, end = max(start, first), min(end, last)
            words.append(Word(texts[pii_used[span] % len(texts)], start, end, policy))
            pii_used[span] += 1
        else:
            words.append(Word(_FILLER[filler % len(_FILLER)], start, end, None))
            filler += 1
    return words


def _shown(word: Word, params: dict[str, Any]) -> str:
    if word.policy is None or not params.get("redact_pii"):
        return word.text
    policies = params.get("redact_pii_policies") or []
    if word.policy not in policies:
        return word.text
    if params.get("redact_pii_sub") == "entity_name":
        return f"[{word.policy.upper()}]"
    return "#" * len(word.text)


def transcript_fields(
    duration_seconds: float, params: dict[str, Any], *, shift_ms: int = 0
) -> dict[str, Any]:
    """Return ``text``, ``words``, ``utterances`` and the unredacted extras a completed transcript holds.

    :param shift_ms: added to every timing (clamped at 0): word timings off the audio, as the
        emulator's ``Faults(word_shift_ms=...)`` scripts.
    """
    words = [
        Word(w.text, max(0, w.start + shift_ms), max(0, w.end + shift_ms), w.policy)
        for w in spoken_words(duration_seconds)
    ]
    diarized = bool(params.get("speaker_labels"))
    half = len(words) // 2

    def speaker(index: int) -> str | None:
        return ("A" if index < half else "B") if diarized else None

    rows: list[dict[str, Any]] = [
        {"text": _shown(w, params), "start": w.start, "end": w.end, "confidence": 0.9, "speaker": speaker(i)}
        for i, w in enumerate(words)
    ]
    fields: dict[str, Any] = {
        "text": " ".join(row["text"] for row in rows),
        "words": rows,
        "utterances": None,
    }
    if diarized:
        fields["utterances"] = [
            {
                "speaker": label,
                "text": " ".join(row["text"] for row in part),
                "start": part[0]["start"],
                "end": part[-1]["end"],
                "confidence": 0.9,
                "words": part,
            }
            for label, part in (("A", rows[:half]), ("B", rows[half:]))
            if part
        ]
    if params.get("entity_detection"):
        fields["entities"] = [
            {
                "entity_type": policy,
                "text": " ".join(w.text for w in words if w.policy == policy),
                "start": min(w.start for w in words if w.policy == policy),
                "end": max(w.end for w in words if w.policy == policy),
            }
            for policy, _ in _PII
            if any(w.policy == policy for w in words)
        ]
    if params.get("redact_pii_return_unredacted"):
        fields["unredacted_text"] = " ".join(w.text for w in words)
    return fields


def _clock(ms: int, separator: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def captions(words: list[dict[str, Any]], chars_per_caption: int) -> list[tuple[int, int, str]]:
    """Group words into captions of at most ``chars_per_caption`` characters (a longer word stands alone)."""
    groups: list[list[dict[str, Any]]] = []
    for word in words:
        if groups and len(" ".join(w["text"] for w in [*groups[-1], word])) <= chars_per_caption:
            groups[-1].append(word)
        else:
            groups.append([word])
    return [(g[0]["start"], g[-1]["end"], " ".join(w["text"] for w in g)) for g in groups]


def subtitles(words: list[dict[str, Any]], fmt: str, chars_per_caption: int) -> str:
    """Return SRT or VTT subtitles of ``words``."""
    cues = captions(words, chars_per_caption)
    if fmt == "srt":
        return "".join(
            f"{n}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{text}\n\n"
            for n, (start, end, text) in enumerate(cues, start=1)
        )
    return "WEBVTT\n\n" + "".join(
        f"{_clock(start, '.')} --> {_clock(end, '.')}\n{text}\n\n" for start, end, text in cues
    )
