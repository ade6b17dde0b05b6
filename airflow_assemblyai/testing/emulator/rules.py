"""What the emulator's API accepts and refuses: request fields, speech models, and the texts it answers."""

from __future__ import annotations

from typing import Any

from airflow_assemblyai.testing import models as speech_models

AUTH_ERROR_TEXT = "Authentication error, API token missing/invalid"
MODEL_DOCS = "https://www.assemblyai.com/docs/pre-recorded-audio/select-the-speech-model"
#: AssemblyAI's answer to the deprecated singular ``speech_model`` (as reported by its users, 2026).
SINGULAR_MODEL_TEXT = (
    f'speech_model is deprecated. Use "speech_models" instead. See documentation: {MODEL_DOCS}'
)
#: A guess: the wording of the 400 for a request without ``speech_models`` is not published.
MISSING_MODELS_TEXT = (
    f'"speech_models" is required: list the speech models to use in priority order. See {MODEL_DOCS}'
)
#: The chain seeded transcripts carry; which models are accepted, routed or refused: testing/models.py.
ACCEPTED_MODELS = ("universal-3-5-pro", "universal-2")
#: ``GET /v2/transcript`` accepts ``limit`` from 1 to this.
MAX_LIST_LIMIT = 200
#: A guess: the real API's wording for a redacted file past its 24 hours is not documented.
EXPIRED_TEXT = "The redacted audio file for this transcript has expired and is no longer available."
FAILED_TRANSCRIPT_TEXT = "Transcript failed; it has no redacted audio."
DELETED_TEXT = "Deleted by user."
#: Failed-transcript texts of the strict emulator. AssemblyAI's docs and support playbook quote these
#: beginnings ("Download error", "File does not appear to contain audio"); the tails vary by report.
DOWNLOAD_ERROR_TEXT = "Download error, unable to download {url}"
TRANSCODING_ERROR_TEXT = (
    "Transcoding failed. File does not appear to contain audio. File type is {media_type}."
)
#: The request fields AssemblyAI knows: its API spec (TranscriptParams, additionalProperties false)
#: and its Python SDK's request model (1.8.x), united. A strict emulator refuses any other field.
KNOWN_REQUEST_FIELDS = frozenset(
    {
        "audio_url", "audio_end_at", "audio_start_from", "auto_chapters", "auto_highlights", "boost_param",
        "content_safety", "content_safety_confidence", "custom_spelling", "custom_topics", "disfluencies",
        "domain", "dual_channel", "entity_detection", "filter_profanity", "format_text", "iab_categories",
        "keyterms_prompt", "keyterms_prompt_options", "language_code", "language_codes",
        "language_confidence_threshold", "language_detection", "language_detection_options",
        "language_detection_results", "multichannel", "prompt", "punctuate", "redact_pii",
        "redact_pii_audio", "redact_pii_audio_options", "redact_pii_audio_quality", "redact_pii_policies",
        "redact_pii_return_unredacted", "redact_pii_sub", "remove_audio_tags", "sentiment_analysis",
        "speaker_labels", "speaker_options", "speakers_expected", "speech_model", "speech_models",
        "speech_threshold", "speech_understanding", "summarization", "summary_model", "summary_type",
        "temperature", "topics", "webhook_auth_header_name", "webhook_auth_header_value", "webhook_url",
        "word_boost",
    }
)  # fmt: skip
#: A guess: the wording of the 400 for subtitles of a transcript that has not completed.
SUBTITLES_NOT_READY_TEXT = "Transcript is not completed yet; subtitles are available once it has completed."


def refuse_models(params: dict[str, Any]) -> str | None:
    """Return AssemblyAI's refusal text for the request's model fields, or None when they are fine."""
    if params.get("speech_model") is not None:
        return SINGULAR_MODEL_TEXT
    models = params.get("speech_models")
    if models is None:
        return MISSING_MODELS_TEXT
    if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
        return "speech_models must be a non-empty list of speech model names."
    return speech_models.chain_refusal(models)


def model_used(params: dict[str, Any]) -> str:
    """Return the model a transcript ran on: the first of its chain, or a retired one's replacement."""
    return speech_models.model_used(params.get("speech_models") or ACCEPTED_MODELS)
