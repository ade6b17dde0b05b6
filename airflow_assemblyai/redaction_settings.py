"""The redaction settings AssemblyAI documents, and the checks that refuse anything else before a request.

A compliance pipeline must not depend on AssemblyAI refusing a misspelt policy: a public live test of
the API (2026-09-24) saw ``redact_pii_policies`` echoed back as sent, unchecked. So a name outside
the lists below fails the task before anything is uploaded or submitted, with the closest known
names. A policy AssemblyAI adds after this release is sent only when the DAG author allows it by
name (the transcribe task's ``allow_unlisted_pii_policies``) or the connection does (extra field
``allowed_pii_policies``, one place for every DAG using it).

Only the names are taken from AssemblyAI's sources, nothing else; each list says where it comes from:

- **spec**: AssemblyAI's OpenAPI spec, ``openapi.yml`` version 1.3.4, repository
  AssemblyAI/assemblyai-api-spec at commit 3fcf678 (2026-03-23): schemas ``PiiPolicy``,
  ``SubstitutionPolicy``, ``RedactPiiAudioQuality`` and the ``redact_pii_audio_options`` object.
- **sdk**: AssemblyAI's Python SDK ``assemblyai`` 1.8.2 from PyPI (its ``types.py`` dated
  2026-10-23, read 2026-12-03): ``PIIRedactionPolicy`` (an alias of ``EntityType``),
  ``PIISubstitutionPolicy``, ``PIIRedactedAudioQuality``, ``RedactPiiAudioOptions``. The SDK's
  repository snapshot (commit 530eca5, 2026-08-14) holds the same policy names.

This module imports nothing from Airflow, so the connection settings can use it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Mapping
from typing import Any

from airflow_assemblyai.exceptions import AssemblyAIInvalidInputError

#: Policy names in AssemblyAI's spec (1.3.4, 2026-03-23): 44 names.
SPEC_PII_POLICIES = frozenset(
    {
        "account_number", "banking_information", "blood_type", "credit_card_cvv", "credit_card_expiration",
        "credit_card_number", "date", "date_interval", "date_of_birth", "drivers_license", "drug",
        "duration", "email_address", "event", "filename", "gender_sexuality", "healthcare_number", "injury",
        "ip_address", "language", "location", "marital_status", "medical_condition", "medical_process",
        "money_amount", "nationality", "number_sequence", "occupation", "organization", "passport_number",
        "password", "person_age", "person_name", "phone_number", "physical_attribute",
        "political_affiliation", "religion", "statistics", "time", "url", "us_social_security_number",
        "username", "vehicle_id", "zodiac_sign",
    }
)  # fmt: skip
#: Policy names the Python SDK (1.8.2, 2026-10-23) has beyond the spec's: 21 names added in 2026.
SDK_ONLY_PII_POLICIES = frozenset(
    {
        "corporate_action", "day", "effect", "financial_metric", "gender", "location_address",
        "location_address_street", "location_city", "location_coordinate", "location_country",
        "location_state", "location_zip", "medical_code", "month", "organization_id",
        "organization_medical_facility", "product", "project", "sexuality", "trend", "year",
    }
)  # fmt: skip
#: Every policy name AssemblyAI documents: the spec's and the SDK's, united (65 names).
PII_POLICIES = SPEC_PII_POLICIES | SDK_ONLY_PII_POLICIES
#: ``redact_pii_sub``: spec ``SubstitutionPolicy`` and SDK ``PIISubstitutionPolicy`` agree. (The spec's
#: field description says ``entity_type``; its enum, what a request is checked against, ``entity_name``.)
SUBSTITUTIONS = ("hash", "entity_name")
#: ``redact_pii_audio_quality``: spec ``RedactPiiAudioQuality`` and SDK ``PIIRedactedAudioQuality`` agree.
AUDIO_QUALITIES = ("mp3", "wav")
#: ``redact_pii_audio_options``: each key with the values it takes (``bool`` for a flag). The spec has
#: both keys; the SDK 1.8.2 models only ``override_audio_redaction_method`` (values: ``silence``).
AUDIO_OPTIONS: Mapping[str, tuple[str, ...] | type[bool]] = {
    "return_redacted_no_speech_audio": bool,
    "override_audio_redaction_method": ("silence",),
}
#: The connection's extra field naming policies allowed beyond :data:`PII_POLICIES`.
CONNECTION_ALLOW_FIELD = "allowed_pii_policies"
#: The transcribe task's argument naming policies allowed beyond :data:`PII_POLICIES`.
TASK_ALLOW_ARGUMENT = "allow_unlisted_pii_policies"
SOURCES_NOTE = "AssemblyAI's API spec 1.3.4 and its Python SDK 1.8.2 (docs/models.md#policies)"


def parse_names(value: object, *, field: str) -> list[str]:
    """Return names from a list, a JSON list text or a comma-separated text, trimmed and in lower case.

    AssemblyAI spells every policy in lower case, so ``"PERSON_NAME"`` means ``person_name``.
    ``None`` is no names. Order is kept and repeats dropped.
    """
    if value is None:
        return []
    items: Collection[object]
    if isinstance(value, str):
        text = value.strip()
        loaded = _json_list(text) if text.startswith("[") else None
        if text.startswith("[") and loaded is None:
            raise AssemblyAIInvalidInputError(
                f"{field} {value!r} is not a JSON list: write it as "
                '["person_name", "phone_number"] or as person_name, phone_number.'
            )
        items = loaded if loaded is not None else text.split(",")
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    else:
        raise AssemblyAIInvalidInputError(
            f"{field} must be a list of policy names, got {type(value).__name__}."
        )
    if not all(isinstance(item, str) for item in items):
        raise AssemblyAIInvalidInputError(f"{field} must hold only policy names (strings), got {value!r}.")
    names = [str(item).strip().lower() for item in items]
    return list(dict.fromkeys(name for name in names if name))


def unlisted_policies(names: Collection[str], *allowed: Collection[str]) -> list[str]:
    """Return the names neither AssemblyAI documents nor any of ``allowed`` lets through, in order."""
    extra = {name for group in allowed for name in group}
    return [name for name in names if name not in PII_POLICIES and name not in extra]


def unknown_policies_error(unknown: Collection[str], *, conn_id: str) -> AssemblyAIInvalidInputError:
    """Return the error for policy names AssemblyAI does not document, each with the closest known ones."""
    named = "; ".join(f"{name!r}{_suggestion(name, PII_POLICIES)}" for name in unknown)
    return AssemblyAIInvalidInputError(
        f"redact_pii_policies has names AssemblyAI does not document: {named}. Nothing was sent. Fix the "
        f"spelling (the known names come from {SOURCES_NOTE}). If AssemblyAI added the policy after this "
        f"provider release, allow it by name: {TASK_ALLOW_ARGUMENT}={sorted(unknown)!r} on the transcribe "
        f"task, or the extra field {CONNECTION_ALLOW_FIELD} of connection {conn_id!r} for every DAG using it."
    )


def check_substitution(value: object) -> str | None:
    """Return ``redact_pii_sub`` as AssemblyAI spells it, or None when unset; raise on any other value."""
    sub = _lower(value)
    if sub is None:
        return None
    if sub not in SUBSTITUTIONS:
        raise AssemblyAIInvalidInputError(
            f"redact_pii_sub must be 'hash' or 'entity_name', got {sub!r}"
            f"{_suggestion(str(sub), SUBSTITUTIONS)}."
        )
    return str(sub)


def check_audio_quality(value: object) -> str:
    """Return ``redact_pii_audio_quality`` (``mp3`` when unset); raise on any other value."""
    quality = _lower(value) or "mp3"
    if quality not in AUDIO_QUALITIES:
        raise AssemblyAIInvalidInputError(
            f"redact_pii_audio_quality must be 'mp3' or 'wav', got {quality!r}"
            f"{_suggestion(str(quality), AUDIO_QUALITIES)}."
        )
    return str(quality)


def check_audio_options(options: object) -> dict[str, Any] | None:
    """Return ``redact_pii_audio_options`` checked key by key; raise naming the first bad key or value."""
    if options is None:
        return None
    if not isinstance(options, Mapping):
        raise AssemblyAIInvalidInputError(
            "redact_pii_audio_options must be a dict: return_redacted_no_speech_audio (bool) and/or "
            f"override_audio_redaction_method ('silence'); got {type(options).__name__}."
        )
    checked: dict[str, Any] = {}
    for key, value in options.items():
        kind = AUDIO_OPTIONS.get(str(key))
        if kind is None:
            raise AssemblyAIInvalidInputError(
                "redact_pii_audio_options accepts only return_redacted_no_speech_audio (bool) and "
                f"override_audio_redaction_method ('silence'), got {key!r}"
                f"{_suggestion(str(key), AUDIO_OPTIONS)}."
            )
        if kind is bool:
            if not isinstance(value, bool):
                raise AssemblyAIInvalidInputError(
                    f"redact_pii_audio_options.{key} must be True or False, got {value!r}."
                )
            checked[str(key)] = value
            continue
        allowed = tuple(kind)
        text = _lower(value)
        if value is not None and text not in allowed:
            raise AssemblyAIInvalidInputError(
                f"redact_pii_audio_options.{key} must be {' or '.join(repr(a) for a in allowed)}, "
                f"got {value!r}{_suggestion(str(text), allowed)}."
            )
        checked[str(key)] = text
    return checked


def _suggestion(name: str, known: Collection[str]) -> str:
    """Return `` (did you mean 'x'?)`` with the closest known names, or ``""`` when none is close.

    Close means :func:`difflib.get_close_matches` (ratio 0.6 or more), keeping only those within 0.1
    of the best, so one clear match is named alone; else the known names that begin with ``name``.
    """
    candidates = sorted(known)
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if close:
        best = difflib.SequenceMatcher(None, name, close[0]).ratio()
        close = [c for c in close if difflib.SequenceMatcher(None, name, c).ratio() >= best - 0.1]
    else:
        close = [c for c in candidates if name and c.startswith(name)][:3]
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)"


def _lower(value: object) -> Any:
    """Return a text trimmed and in lower case (empty as None); any other value as it is."""
    if isinstance(value, str):
        return value.strip().lower() or None
    return value


def _json_list(text: str) -> list[Any] | None:
    try:
        loaded = json.loads(text)
    except ValueError:
        return None
    return loaded if isinstance(loaded, list) else None
