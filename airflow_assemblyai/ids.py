"""Check AssemblyAI transcript ids where they enter the provider, before any request is built."""

from __future__ import annotations

import re

from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError

#: AssemblyAI transcript ids are UUIDs today; letters, digits, ``-`` and ``_`` are accepted, so a
#: future id scheme needs no release, while ``/``, ``.``, ``%``, ``?`` or spaces can never steer a
#: request path to another transcript.
_TRANSCRIPT_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def validate_transcript_id(value: object, *, field: str = "transcript_id") -> str:
    """Return ``value`` as a transcript id, or raise naming ``field`` and the fix.

    :raises AssemblyAIInvalidInputError: the value is empty, not a string, or holds characters
        other than letters, digits, ``-`` and ``_``.
    """
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise AssemblyAIInvalidInputError(
            f"{field} is empty: pass the id returned by the transcribe task (its XCom)."
        )
    if not _TRANSCRIPT_ID.fullmatch(text):
        raise AssemblyAIInvalidInputError(
            f"{field} {text[:64]!r} is not an AssemblyAI transcript id: ids hold only letters, digits, "
            "'-' and '_' (at most 128). Pass the id returned by the transcribe task."
        )
    return text
