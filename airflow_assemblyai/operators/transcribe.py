"""Submit audio to AssemblyAI for transcription with PII audio redaction."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_assemblyai.exceptions import (
    AssemblyAIFinalError,
    AssemblyAIInvalidInputError,
    AssemblyAIRequestError,
)
from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook, submission_payload
from airflow_assemblyai.hooks.settings import parse_speech_models
from airflow_assemblyai.ids import validate_transcript_id
from airflow_assemblyai.operators.submission import Submission, SubmissionMarker
from airflow_assemblyai.redaction_settings import (
    check_audio_options,
    check_audio_quality,
    check_substitution,
    parse_names,
    unknown_policies_error,
    unlisted_policies,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context, ObjectStoragePath

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
        or a comma-separated text). A name AssemblyAI does not document fails the task before any
        request, with the closest known names (:mod:`airflow_assemblyai.redaction_settings`).
    :param allow_unlisted_pii_policies: policy names to send although this release does not know them
        (one AssemblyAI added since); the connection's extra ``allowed_pii_policies`` does the same
        for every DAG using it.
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
        "allow_unlisted_pii_policies",
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
        allow_unlisted_pii_policies: Sequence[str] | str | None = None,
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
        self.allow_unlisted_pii_policies = allow_unlisted_pii_policies
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
        """Return the policy names; raise, before any request, on a name nobody allowed."""
        names = parse_names(self.redact_pii_policies, field="redact_pii_policies")
        if not names:
            raise AssemblyAIInvalidInputError(
                "redact_pii_policies is empty: name the PII types to redact, e.g. "
                "['person_name', 'phone_number', 'credit_card_number']."
            )
        by_task = parse_names(self.allow_unlisted_pii_policies, field="allow_unlisted_pii_policies")
        unknown = unlisted_policies(names, by_task)
        # The connection is read only for a name the task did not allow: known names need no connection.
        by_connection = self._connection_allowed_policies() if unknown else ()
        unknown = unlisted_policies(unknown, by_connection)
        if unknown:
            raise unknown_policies_error(unknown, conn_id=self.assemblyai_conn_id)
        allowed = unlisted_policies(names)
        if allowed:
            self.log.warning(
                "redact_pii_policies: sending %s, which this provider release does not know, as allowed "
                "explicitly (task: %s; connection %r: %s). AssemblyAI may accept a name it does not know "
                "and redact nothing for it: check the transcript's redacted words.",
                allowed,
                by_task,
                self.assemblyai_conn_id,
                list(by_connection),
            )
        return names

    def _connection_allowed_policies(self) -> tuple[str, ...]:
        """Return the connection's ``allowed_pii_policies``; none when the connection is not defined."""
        try:
            return self.hook.settings.allowed_pii_policies
        except AirflowNotFoundException:
            return ()  # the unknown name fails the task next, which is the error to fix first

    def _substitution(self) -> str | None:
        return check_substitution(self.redact_pii_sub)

    def _audio_quality(self) -> str:
        return check_audio_quality(self.redact_pii_audio_quality)

    def _audio_options(self) -> dict[str, Any] | None:
        return check_audio_options(self.redact_pii_audio_options)

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
