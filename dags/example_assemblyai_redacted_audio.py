"""Transcribe a call with PII redaction, wait for the redacted audio, archive the record, purge upstream.

check the archive destination (before anything is paid for) -> transcribe -> wait (deferrable: no worker
slot while AssemblyAI works) -> archive to S3 -> delete at AssemblyAI. Only the transcript id travels
between tasks; the archive task fetches a fresh pre-signed URL itself and never stores it. It archives
the whole redacted record: the audio, beside it the redacted transcript as JSON and its SRT and VTT
subtitles, and last a manifest; the purge checks every file the manifest lists. The audio and the
manifest are announced through the ``AssetAlias`` ``assemblyai_redacted_audio`` as concrete
``s3://bucket/key`` assets, so downstream DAGs can be scheduled on them.

Params: ``audio_url`` (a URL AssemblyAI can fetch) or ``audio_path`` (a local file or object-storage
URI to upload), ``bucket`` and ``key_prefix``. ``ASSEMBLYAI_EXAMPLE_POLL_SECONDS`` sets the poll
interval (default 30 s; AssemblyAI allows 20,000 requests per 5 minutes).
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG, AssetAlias, Param, chain

from airflow_assemblyai.operators.delete import AssemblyAIDeleteTranscriptOperator
from airflow_assemblyai.operators.destination import AssemblyAICheckArchiveDestinationOperator
from airflow_assemblyai.operators.transcribe import AssemblyAITranscribeOperator
from airflow_assemblyai.sensors.redacted_audio import AssemblyAIRedactedAudioSensor
from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
    AssemblyAIRedactedAudioToObjectStorageOperator,
)

REDACTED_AUDIO = AssetAlias("assemblyai_redacted_audio")
TRANSCRIPT_ID = "{{ ti.xcom_pull(task_ids='wait_for_redacted_audio')['transcript_id'] }}"
AUDIO_FORMAT = "{{ ti.xcom_pull(task_ids='wait_for_redacted_audio')['audio_format'] }}"

with DAG(
    dag_id="example_assemblyai_redacted_audio",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["assemblyai", "example"],
    params={
        "audio_url": Param("", type="string", description="URL of the audio, or leave empty"),
        "audio_path": Param("", type="string", description="Local path or object-storage URI to upload"),
        "bucket": Param("redacted-audio", type="string", description="S3 bucket of the archive"),
        "key_prefix": Param("calls/", type="string", description="S3 key prefix of the archive"),
    },
    doc_md=__doc__,
) as dag:
    # A missing bucket or write permission fails here, before the upload and the paid transcription.
    check_destination = AssemblyAICheckArchiveDestinationOperator(
        task_id="check_archive_destination", s3_bucket="{{ params.bucket }}", s3_key="{{ params.key_prefix }}"
    )
    transcribe = AssemblyAITranscribeOperator(
        task_id="transcribe",
        audio_url="{{ params.audio_url }}",
        audio_path="{{ params.audio_path }}",
        redact_pii=True,
        redact_pii_audio=True,
        redact_pii_policies=["person_name", "phone_number", "email_address", "location_address"],
        redact_pii_sub="entity_name",
        redact_pii_audio_quality="wav",
        # Keep an audio file even when no speech is found (recordings of silence or hold music).
        redact_pii_audio_options={"return_redacted_no_speech_audio": True},
    )
    wait = AssemblyAIRedactedAudioSensor(
        task_id="wait_for_redacted_audio",
        transcript_id="{{ ti.xcom_pull(task_ids='transcribe') }}",
        deferrable=True,
        poke_interval=float(os.environ.get("ASSEMBLYAI_EXAMPLE_POLL_SECONDS", "30")),
        timeout=6 * 60 * 60,
    )
    archive = AssemblyAIRedactedAudioToObjectStorageOperator(
        task_id="archive_to_s3",
        transcript_id=TRANSCRIPT_ID,
        s3_bucket="{{ params.bucket }}",
        s3_key="{{ params.key_prefix }}" + TRANSCRIPT_ID + "." + AUDIO_FORMAT,
        # Audio, transcript JSON (redacted fields only), SRT and VTT, then the manifest; returns its URI.
        archive_record=True,
        outlets=[REDACTED_AUDIO],
    )
    # Purges only after checking that the manifest names this transcript and every file it lists is there.
    delete = AssemblyAIDeleteTranscriptOperator(
        task_id="delete_at_assemblyai", transcript_id=TRANSCRIPT_ID, archive_uri=archive.output
    )

    chain(check_destination, transcribe, wait, archive, delete)
