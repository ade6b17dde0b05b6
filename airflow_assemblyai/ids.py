"""Check AssemblyAI transcript ids where they enter the provider, before any request is built."""

from __future__ import annotations

import re

from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError

#: AssemblyAI transcript ids are UUIDs today; letters, digits, ``-`` and ``_`` are accepted, so a
#: future id scheme needs no release, while ``/``, ``.``, ``%``, ``?`` or spaces can never steer a
#: request path to another transcript.
_TRANSCRIPT_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
#: What a template renders when its value is missing: Jinja prints Python's None as "None".
_RENDERED_NOTHING = frozenset({"none", "null"})
#: The usual cause, said once for both messages.
_TEMPLATE_HINT = (
    "If it is a template, its value was missing: an xcom_pull with a misspelled task_ids (or key), "
    "or an upstream task that returned nothing, renders None. Check task_ids against the task that "
    "returns the id, e.g. \"{{ ti.xcom_pull(task_ids='transcribe') }}\", or pass that task's output."
)


def validate_transcript_id(value: object, *, field: str = "transcript_id") -> str:
    """Return ``value`` as a transcript id, or raise naming ``field`` and the fix.

    :raises AssemblyAIInvalidInputError: the value is empty, not a string, ``None`` or ``null`` as
        text (what a template renders for a missing XCom), or holds characters other than letters,
        digits, ``-`` and ``_``.
    """
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        given = " (None)" if value is None else ""
        raise AssemblyAIInvalidInputError(
            f"{field} is empty{given}: pass the id returned by the transcribe task (its XCom). "
            + _TEMPLATE_HINT
        )
    if text.lower() in _RENDERED_NOTHING:
        raise AssemblyAIInvalidInputError(
            f"{field} rendered to {text!r}, not a transcript id. {_TEMPLATE_HINT}"
        )
    if not _TRANSCRIPT_ID.fullmatch(text):
        raise AssemblyAIInvalidInputError(
            f"{field} {text[:64]!r} is not an AssemblyAI transcript id: ids hold only letters, digits, "
            "'-' and '_' (at most 128). Pass the id returned by the transcribe task."
        )
    return text
