"""Submit audio to AssemblyAI for transcription with PII audio redaction."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_assemblyai.exceptions import (
    AssemblyAIFinalError,
    AssemblyAIInvalidInputError,
    AssemblyAIRequestError,
)
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook, submission_payload
from airflow_assemblyai.hooks.settings import parse_speech_models
from airflow_assemblyai.ids import validate_transcript_id
from airflow_assemblyai.operators.submission import Submission, SubmissionMarker

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context, ObjectStoragePath

#: PII policy names known to this release (AssemblyAI's SDK, October 2026). A name outside this set
#: only warns: AssemblyAI adds policies faster than providers are released, and its own 400 still
#: fails the task at once for a name it does not know.
PII_POLICIES = frozenset(
    [
        "account_number",
        "banking_information",
        "blood_type",
        "corporate_action",
        "credit_card_cvv",
        "credit_card_expiration",
        "credit_card_number",
        "date",
        "date_interval",
        "date_of_birth",
        "day",
        "drivers_license",
        "drug",
        "duration",
        "effect",
        "email_address",
        "event",
        "filename",
        "financial_metric",
        "gender",
        "gender_sexuality",
        "healthcare_number",
        "injury",
        "ip_address",
        "language",
        "location",
        "location_address",
        "location_address_street",
        "location_city",
        "location_coordinate",
        "location_country",
        "location_state",
        "location_zip",
        "marital_status",
        "medical_code",
        "medical_condition",
        "medical_process",
        "money_amount",
        "month",
        "nationality",
        "number_sequence",
        "occupation",
        "organization",
        "organization_id",
        "organization_medical_facility",
        "passport_number",
        "password",
        "person_age",
        "person_name",
        "phone_number",
        "physical_attribute",
        "political_affiliation",
        "product",
        "project",
        "religion",
        "sexuality",
        "statistics",
        "time",
        "trend",
        "url",
        "us_social_security_number",
        "username",
        "vehicle_id",
        "year",
        "zodiac_sign",
    ]
)
SUBSTITUTIONS = frozenset({"hash", "entity_name"})
AUDIO_QUALITIES = frozenset({"mp3", "wav"})
AUDIO_OPTIONS = frozenset({"return_redacted_no_speech_audio", "override_audio_redaction_method"})
#: Fields set through typed parameters; ``transcript_params`` may not set them a second time.
TYPED_FIELDS = frozenset(
    {
        "audio_url",
        "redact_pii",
        "redact_pii_audio",
        "redact_pii_policies",
        "redact_pii_sub",
        "redact_pii_audio_quality",
        "redact_pii_audio_options",
        "speech_models",
        "speech_model",
        "webhook_url",
    }
)


class AssemblyAITranscribeOperator(BaseOperator):
    """Submit audio for transcription with PII redaction; return the transcript id.

    The audio is an ``audio_url`` AssemblyAI can fetch, or an ``audio_path`` (local path or
    ``ObjectStoragePath``) that is streamed to AssemblyAI's upload endpoint first. Every argument is
    templated, so it may come from Jinja, an ``XComArg`` or ``.expand()``; all are checked when the
    task runs, before any request, with an error naming the field. The task only submits: wait with
    :class:`~airflow_assemblyai.sensors.redacted_audio.AssemblyAIRedactedAudioSensor`.

    A retry of this task submits a new transcript (AssemblyAI has no idempotency key), unless a
    ``submission_marker`` is given: then the submission is recorded in S3 (a claim right before the
    request, the transcript id right after its answer), and a retry or a later run that finds the
    id returns it without uploading or submitting anything. A claim without an id (the answer was
    lost) fails the task without a request, naming how to settle it. The hook itself never repeats
    a submission that reached the server.

    :param audio_url: URL of the audio. Exactly one of ``audio_url`` and ``audio_path``.
    :param audio_path: local path or ``ObjectStoragePath`` to upload first.
    :param speech_models: speech models in priority order, e.g. ``["universal-3-5-pro", "universal-2"]``
        (a list, or a comma-separated text). Default: the connection's extra ``speech_models``, else
        the provider's chain (docs/models.md#models).
    :param redact_pii: redact PII in the transcript text (required by ``redact_pii_audio``).
    :param redact_pii_audio: produce the redacted audio file.
    :param redact_pii_policies: PII types to redact, e.g. ``["person_name", "phone_number"]`` (a list,
        or a comma-separated text). Names this release does not know are sent with a warning.
    :param redact_pii_sub: ``hash`` or ``entity_name`` for the text substitution.
    :param redact_pii_audio_quality: ``mp3`` (default) or ``wav``.
    :param redact_pii_audio_options: ``return_redacted_no_speech_audio`` and/or
        ``override_audio_redaction_method: "silence"``.
    :param webhook_url: URL AssemblyAI calls when the transcript is done.
    :param transcript_params: other documented request fields, passed through.
    :param assemblyai_conn_id: Airflow connection of type ``assemblyai``.
    :param submission_marker: ``s3://bucket/key`` of this audio's submission marker (templated; see
        :mod:`airflow_assemblyai.operators.submission`), or None to submit on every run.
    :param aws_conn_id: Airflow connection to AWS, to read and write the submission marker.
    """

    template_fields: Sequence[str] = (
        "audio_url",
        "audio_path",
        "submission_marker",
        "speech_models",
        "redact_pii",
        "redact_pii_audio",
        "redact_pii_policies",
        "redact_pii_sub",
        "redact_pii_audio_quality",
        "redact_pii_audio_options",
        "webhook_url",
        "transcript_params",
    )
    ui_color = "#e6f0ff"

    def __init__(
        self,
        *,
        audio_url: str | None = None,
        audio_path: str | ObjectStoragePath | None = None,
        speech_models: Sequence[str] | str | None = None,
        redact_pii: bool = True,
        redact_pii_audio: bool = True,
        redact_pii_policies: Sequence[str] | str | None = None,
        redact_pii_sub: str | None = None,
        redact_pii_audio_quality: str = "mp3",
        redact_pii_audio_options: dict[str, Any] | None = None,
        webhook_url: str | None = None,
        transcript_params: dict[str, Any] | None = None,
        assemblyai_conn_id: str = AssemblyAIHook.default_conn_name,
        submission_marker: str | None = None,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.submission_marker = submission_marker
        self.aws_conn_id = aws_conn_id
        self.audio_url = audio_url
        self.audio_path = audio_path
        self.speech_models = speech_models
        self.redact_pii = redact_pii
        self.redact_pii_audio = redact_pii_audio
        self.redact_pii_policies = redact_pii_policies
        self.redact_pii_sub = redact_pii_sub
        self.redact_pii_audio_quality = redact_pii_audio_quality
        self.redact_pii_audio_options = redact_pii_audio_options
        self.webhook_url = webhook_url
        self.transcript_params = transcript_params
        self.assemblyai_conn_id = assemblyai_conn_id

    @cached_property
    def hook(self) -> AssemblyAIHook:
        """Return the hook of ``assemblyai_conn_id``."""
        return AssemblyAIHook(self.assemblyai_conn_id)

    def execute(self, context: Context) -> str:
        """Check the rendered arguments, upload the audio if it is a file, submit, and return the id."""
        fields = self._request_fields()
        marker = (
            SubmissionMarker(self.submission_marker, aws_conn_id=self.aws_conn_id)
            if self.submission_marker
            else None
        )
        claimed = marker.read() if marker else None
        if marker and claimed:
            return self._resume(marker, claimed)
        audio_url = self.audio_url
        if self.audio_path:
            self.log.info("Uploading %s to AssemblyAI", self.audio_path)
            audio_url = self.hook.upload_file(self.audio_path)
        if marker:
            # Claimed after the upload (free) and before the POST (billed): a lost answer is never resent.
            claimed = marker.claim(str(self.audio_path) if self.audio_path else None)
            if claimed is None:  # another attempt claimed it meanwhile
                return self._resume(marker, marker.read() or Submission())
        try:
            transcript = self.hook.submit_transcript(str(audio_url), **fields)
        except AssemblyAIRequestError:
            if marker:  # AssemblyAI refused the request: no transcript exists, nothing to resume
                marker.remove()
            raise
        transcript_id = str(transcript["id"])
        if marker:
            self._record(marker, claimed, transcript_id)
        self.log.info(
            "Submitted transcript %s (status %s, speech models %s)",
            transcript_id,
            transcript.get("status"),
            transcript.get("speech_models"),
        )
        return transcript_id

    def _resume(self, marker: SubmissionMarker, found: Submission) -> str:
        """Return the transcript id the marker records; raise when only a claim is there."""
        if found.transcript_id:
            self.log.info(
                "Resuming transcript %s (submitted %s for %s, marker %s): nothing is uploaded or "
                "submitted again.",
                found.transcript_id,
                found.submitted_at or "earlier",
                found.source or "this audio",
                marker.uri,
            )
            return validate_transcript_id(found.transcript_id)
        raise AssemblyAIFinalError(
            f"A submission of this audio started at {found.started_at or 'an unknown time'} and its answer "
            f"was never recorded ({marker.uri} holds no transcript id), so the request may have reached "
            "AssemblyAI; it is not sent again (a second bill). Look for a transcript created then "
            "(AssemblyAI's dashboard, or GET /v2/transcript): if there is one, write "
            '{"transcript_id": "<its id>"} to the marker; if there is none, delete the marker to submit '
            "the audio again."
        )

    def _record(self, marker: SubmissionMarker, claimed: Submission | None, transcript_id: str) -> None:
        """Write the transcript id into the marker; on failure, name the id so it can be written by hand."""
        try:
            marker.record(claimed, transcript_id)
        except Exception as exc:
            raise AssemblyAIFinalError(
                f"Transcript {transcript_id} was submitted, but its id could not be written to {marker.uri} "
                f'({type(exc).__name__}: {exc}). Write {{"transcript_id": "{transcript_id}"}} there, so the '
                "next run resumes it instead of refusing the audio."
            ) from exc

    def submission_preview(self) -> dict[str, Any]:
        """Return the JSON body :meth:`execute` would send, without sending anything.

        Reads the connection (for its default model chain) but makes no request, so nothing is
        billed. For an ``audio_path`` the ``audio_url`` is a placeholder: the upload happens first.
        Call it on a task whose templates are rendered.
        """
        fields = self._request_fields()
        fields.setdefault("speech_models", list(self.hook.settings.default_speech_models))
        audio_url = self.audio_url or f"<upload_url returned by POST /v2/upload for {self.audio_path}>"
        return submission_payload(str(audio_url), fields)

    # -- checks, run on the rendered values ----------------------------------------------------

    def _request_fields(self) -> dict[str, Any]:
        """Return the request fields besides ``audio_url``; raise naming the first bad argument."""
        if bool(self.audio_url) == bool(self.audio_path):
            raise AssemblyAIInvalidInputError(
                "Pass exactly one of audio_url (a URL AssemblyAI can fetch) and audio_path (a local "
                "path or ObjectStoragePath to upload)."
            )
        redact_pii = _as_bool("redact_pii", self.redact_pii)
        redact_pii_audio = _as_bool("redact_pii_audio", self.redact_pii_audio)
        if redact_pii_audio and not redact_pii:
            raise AssemblyAIInvalidInputError(
                "redact_pii_audio=True needs redact_pii=True: AssemblyAI redacts the audio from the "
                "PII it finds in the text."
            )
        fields: dict[str, Any] = self._transcript_params()
        if self.speech_models is not None:
            fields["speech_models"] = list(parse_speech_models(self.speech_models))
        fields.update(
            redact_pii=redact_pii, redact_pii_audio=redact_pii_audio, webhook_url=self.webhook_url or None
        )
        if redact_pii:
            fields.update(
                redact_pii_policies=self._policies(),
                redact_pii_sub=self._substitution(),
                redact_pii_audio_quality=self._audio_quality(),
                redact_pii_audio_options=self._audio_options(),
            )
        return fields

    def _policies(self) -> list[str]:
        policies = self.redact_pii_policies
        # AssemblyAI spells every name in lower case; "PERSON_NAME" means the same policy.
        if isinstance(policies, str):
            names = [p.strip().lower() for p in policies.split(",") if p.strip()]
        elif isinstance(policies, list | tuple):
            names = [str(p).strip().lower() for p in policies if str(p).strip()]
        elif policies is None:
            names = []
        else:
            raise AssemblyAIInvalidInputError(
                f"redact_pii_policies must be a list of policy names, got {type(policies).__name__}."
            )
        if not names:
            raise AssemblyAIInvalidInputError(
                "redact_pii_policies is empty: name the PII types to redact, e.g. "
                "['person_name', 'phone_number', 'credit_card_number']."
            )
        unknown = sorted(set(names) - PII_POLICIES)
        if unknown:
            self.log.warning(
                "redact_pii_policies has names this provider release does not know: %s. They are sent "
                "as given; AssemblyAI refuses the request if it does not know them either.",
                unknown,
            )
        return names

    def _substitution(self) -> str | None:
        sub = _lower(self.redact_pii_sub) or None
        if sub is not None and sub not in SUBSTITUTIONS:
            raise AssemblyAIInvalidInputError(f"redact_pii_sub must be 'hash' or 'entity_name', got {sub!r}.")
        return sub

    def _audio_quality(self) -> str:
        quality = _lower(self.redact_pii_audio_quality) or "mp3"
        if quality not in AUDIO_QUALITIES:
            raise AssemblyAIInvalidInputError(
                f"redact_pii_audio_quality must be 'mp3' or 'wav', got {quality!r}."
            )
        return quality

    def _audio_options(self) -> dict[str, Any] | None:
        options = self.redact_pii_audio_options
        if options is None:
            return None
        if not isinstance(options, dict) or set(options) - AUDIO_OPTIONS:
            raise AssemblyAIInvalidInputError(
                "redact_pii_audio_options accepts only return_redacted_no_speech_audio (bool) and "
                f"override_audio_redaction_method ('silence'), got {options!r}."
            )
        method = options.get("override_audio_redaction_method")
        if method is not None and method != "silence":
            raise AssemblyAIInvalidInputError(
                f"redact_pii_audio_options.override_audio_redaction_method must be 'silence', got {method!r}."
            )
        no_speech = options.get("return_redacted_no_speech_audio")
        if no_speech is not None and not isinstance(no_speech, bool):
            raise AssemblyAIInvalidInputError(
                "redact_pii_audio_options.return_redacted_no_speech_audio must be True or False."
            )
        return options

    def _transcript_params(self) -> dict[str, Any]:
        params = self.transcript_params
        if params is None:
            return {}
        if not isinstance(params, dict):
            raise AssemblyAIInvalidInputError(
                "transcript_params must be a dict of AssemblyAI request fields."
            )
        clash = sorted(TYPED_FIELDS & set(params))
        if clash:
            raise AssemblyAIInvalidInputError(
                f"transcript_params sets {clash}: pass them as the operator's own parameters instead "
                "(speech_model, singular, is deprecated: use speech_models)."
            )
        return dict(params)


def _as_bool(name: str, value: object) -> bool:
    """Return a flag given as a bool, or as the text Jinja renders (``"True"``/``"false"``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise AssemblyAIInvalidInputError(f"{name} must be True or False, got {value!r}.")


def _lower(value: object) -> object:
    """Return an enumerated value as AssemblyAI spells it (lower case, trimmed); a non-text as it is."""
    return value.strip().lower() if isinstance(value, str) else value
