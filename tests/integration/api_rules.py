"""The project's own statement of the AssemblyAI v2 API's shapes, for conformance checks.

Written from the facts of AssemblyAI's published OpenAPI spec (API version 1.3.4): which fields a
request may carry and which it must, their types and formats, and which fields each answer always
holds (null where the spec allows null). It is deliberately a small JSON Schema of our own, not a
copy of the spec; ``check`` returns every violation so a failing test names them all.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

STATUS = {"enum": ["queued", "processing", "completed", "error"]}
URL = {"type": "string", "pattern": r"^https?://"}
UUID = {"type": "string", "format": "uuid"}
TIMESTAMP = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$"}
UNIT_INTERVAL = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
MODEL_LIST = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
PII_SUB = {"enum": ["entity_name", "hash", None]}
AUDIO_QUALITY = {"enum": ["mp3", "wav", None]}
AUDIO_OPTIONS = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "properties": {
        "return_redacted_no_speech_audio": {"type": "boolean"},
        "override_audio_redaction_method": {"enum": ["silence"]},
    },
}

#: Optional request fields the spec lists for ``POST /v2/transcript`` (besides ``audio_url``).
REQUEST_FIELDS = frozenset(
    [
        "audio_end_at",
        "audio_start_from",
        "auto_chapters",
        "auto_highlights",
        "content_safety",
        "content_safety_confidence",
        "custom_spelling",
        "custom_topics",
        "disfluencies",
        "entity_detection",
        "filter_profanity",
        "format_text",
        "iab_categories",
        "keyterms_prompt",
        "language_code",
        "language_codes",
        "language_confidence_threshold",
        "language_detection",
        "language_detection_options",
        "multichannel",
        "prompt",
        "punctuate",
        "redact_pii",
        "redact_pii_audio",
        "redact_pii_audio_options",
        "redact_pii_audio_quality",
        "redact_pii_policies",
        "redact_pii_sub",
        "remove_audio_tags",
        "sentiment_analysis",
        "speaker_labels",
        "speaker_options",
        "speakers_expected",
        "speech_model",
        "speech_models",
        "speech_threshold",
        "speech_understanding",
        "summarization",
        "summary_model",
        "summary_type",
        "temperature",
        "topics",
        "webhook_auth_header_name",
        "webhook_auth_header_value",
        "webhook_url",
        "",
    ]
)

SUBMISSION: dict[str, Any] = {
    "type": "object",
    "required": ["audio_url", "speech_models"],
    "propertyNames": {"enum": sorted(REQUEST_FIELDS | {"audio_url"})},
    "not": {"required": ["speech_model"]},  # deprecated: AssemblyAI refuses it
    "properties": {
        "audio_url": URL,
        "speech_models": MODEL_LIST,
        "redact_pii": {"type": "boolean"},
        "redact_pii_audio": {"type": "boolean"},
        "redact_pii_policies": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "redact_pii_sub": PII_SUB,
        "redact_pii_audio_quality": AUDIO_QUALITY,
        "redact_pii_audio_options": AUDIO_OPTIONS,
        "webhook_url": URL,
        "speaker_labels": {"type": "boolean"},
    },
}

WORD = {
    "type": "object",
    "required": ["confidence", "start", "end", "text", "speaker"],
    "properties": {
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "start": {"type": "integer"},
        "end": {"type": "integer"},
        "text": {"type": "string"},
        "speaker": {"type": ["string", "null"]},
    },
}

TRANSCRIPT: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "speech_model",
        "language_model",
        "acoustic_model",
        "status",
        "audio_url",
        "webhook_auth",
        "auto_highlights",
        "redact_pii",
        "summarization",
        "language_confidence_threshold",
        "language_confidence",
    ],
    "properties": {
        "id": UUID,
        "status": STATUS,
        "audio_url": URL,
        "speech_model": {"type": ["string", "null"]},
        "speech_models": {"type": ["array", "null"], "items": {"type": "string"}},
        "speech_model_used": {"type": "string"},
        "language_model": {"type": "string"},
        "acoustic_model": {"type": "string"},
        "webhook_auth": {"type": "boolean"},
        "auto_highlights": {"type": "boolean"},
        "redact_pii": {"type": "boolean"},
        "redact_pii_audio": {"type": ["boolean", "null"]},
        "redact_pii_audio_quality": AUDIO_QUALITY,
        "redact_pii_policies": {"type": ["array", "null"], "items": {"type": "string"}},
        "redact_pii_sub": PII_SUB,
        "summarization": {"type": "boolean"},
        "language_confidence_threshold": UNIT_INTERVAL,
        "language_confidence": UNIT_INTERVAL,
        "confidence": UNIT_INTERVAL,
        "error": {"type": "string"},  # a string when present; never null
        "text": {"type": ["string", "null"]},
        "audio_duration": {"type": ["integer", "null"]},
        "webhook_url": {"type": ["string", "null"]},
        "words": {"type": ["array", "null"], "items": WORD},
        "utterances": {"type": ["array", "null"], "items": {"type": "object"}},
    },
    "allOf": [
        {  # a completed transcript says which model ran
            "if": {"properties": {"status": {"const": "completed"}}},
            "then": {"required": ["speech_model_used"]},
        },
        {"if": {"properties": {"status": {"const": "error"}}}, "then": {"required": ["error"]}},
    ],
}

TRANSCRIPT_LIST: dict[str, Any] = {
    "type": "object",
    "required": ["page_details", "transcripts"],
    "additionalProperties": False,
    "properties": {
        "page_details": {
            "type": "object",
            "additionalProperties": False,
            "required": ["limit", "result_count", "current_url", "prev_url", "next_url"],
            "properties": {
                "limit": {"type": "integer", "minimum": 1, "maximum": 200},
                "result_count": {"type": "integer", "minimum": 0},
                "current_url": URL,
                "prev_url": {"anyOf": [URL, {"type": "null"}]},
                "next_url": {"anyOf": [URL, {"type": "null"}]},
            },
        },
        "transcripts": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "resource_url", "status", "created", "completed", "audio_url", "error"],
                "properties": {
                    "id": UUID,
                    "resource_url": URL,
                    "status": STATUS,
                    "created": TIMESTAMP,
                    "completed": {"anyOf": [TIMESTAMP, {"type": "null"}]},
                    "audio_url": URL,
                    "error": {"type": ["string", "null"]},
                },
            },
        },
    },
}

REDACTED_AUDIO_READY: dict[str, Any] = {
    "type": "object",
    "required": ["status", "redacted_audio_url"],
    "properties": {"status": {"const": "redacted_audio_ready"}, "redacted_audio_url": URL},
}
UPLOAD: dict[str, Any] = {"type": "object", "required": ["upload_url"], "properties": {"upload_url": URL}}
ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {"error": {"type": "string", "minLength": 1}},
}

#: The request paths the provider may use, with the transcript id in its documented form.
_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
REQUEST_PATHS = {
    "POST": [r"/v2/upload", r"/v2/transcript"],
    "GET": [
        r"/v2/transcript",
        rf"/v2/transcript/{_ID}",
        rf"/v2/transcript/{_ID}/redacted-audio",
        rf"/v2/transcript/{_ID}/(srt|vtt)",
    ],
    "DELETE": [rf"/v2/transcript/{_ID}"],
}


def check(document: object, schema: dict[str, Any]) -> list[str]:
    """Return every violation of ``schema`` in ``document`` as ``path: message`` lines."""
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=str)
    ]
