"""Redact and archive every recording under a source location, once each, within AssemblyAI's rate limit.

``check_pool`` -> ``check_archive_destination`` (before anything is paid for) -> ``plan`` -> per
recording (a mapped task group): ``transcribe`` -> ``wait`` (deferrable) -> ``archive`` (to S3) ->
``delete`` (at AssemblyAI); ``find_unpurged`` -> ``purge`` (mapped) beside them; ``summarize`` at the
end, whatever happened before it. A recording already archived is skipped; one submitted before is
resumed, never billed twice (its submission marker).

Create the pool first: ``airflow pools set assemblyai 8 "AssemblyAI submissions and transfers"``.
The helpers are in :mod:`airflow_assemblyai.batch`; docs/batches.md#batch-dag explains the run.
``ASSEMBLYAI_EXAMPLE_POLL_SECONDS`` sets the poll interval (default 30 s).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, chain, get_current_context, task, task_group

from airflow_assemblyai import batch
from airflow_assemblyai.batch import GROUP, POOL
from airflow_assemblyai.operators.delete import AssemblyAIDeleteTranscriptOperator
from airflow_assemblyai.operators.destination import AssemblyAICheckArchiveDestinationOperator
from airflow_assemblyai.operators.transcribe import AssemblyAITranscribeOperator
from airflow_assemblyai.sensors.redacted_audio import AssemblyAIRedactedAudioSensor
from airflow_assemblyai.transfers.redacted_audio_to_object_storage import (
    AssemblyAIRedactedAudioToObjectStorageOperator,
)

DAG_ID = "example_assemblyai_redacted_audio_batch"
POLL_SECONDS = float(os.environ.get("ASSEMBLYAI_EXAMPLE_POLL_SECONDS", "30"))

with DAG(
    dag_id=DAG_ID,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["assemblyai", "example"],
    params={
        "source": Param("", type="string", description="Local directory, or s3://bucket/prefix/"),
        "source_conn_id": Param("aws_default", type="string", description="Connection of an s3:// source"),
        "bucket": Param("redacted-audio", type="string", description="S3 bucket of the archive"),
        "key_prefix": Param("redacted/", type="string", description="S3 key prefix of the archive"),
        "audio_format": Param("mp3", enum=["mp3", "wav"], description="Format of the redacted audio"),
        "check_pool": Param(True, type="boolean", description="Fail unless the pool is shown to exist"),
    },
    doc_md=__doc__,
) as dag:

    @task
    def check_pool() -> None:
        """Fail the run, naming the fix, when the pool the recording tasks need is not shown to exist."""
        batch.check_pool(POOL, enabled=get_current_context()["params"]["check_pool"])

    @task
    def plan() -> list[dict[str, Any]]:
        """Return the recordings to submit (or resume); push ``skipped`` and ``unpurged``."""
        context = get_current_context()
        params = context["params"]
        planned = batch.plan_batch(
            str(params["source"]),
            source_conn_id=params["source_conn_id"],
            bucket=params["bucket"],
            key_prefix=params["key_prefix"],
            audio_format=params["audio_format"],
        )
        context["ti"].xcom_push(key="skipped", value=planned.skipped)
        context["ti"].xcom_push(key="unpurged", value=planned.unpurged)
        return planned.todo

    @task
    def find_unpurged() -> list[dict[str, str]]:
        """Return the transcript id (from its marker) and archive of each recording never purged."""
        context = get_current_context()
        keys = context["ti"].xcom_pull(task_ids="plan", key="unpurged") or []
        return batch.find_unpurged(context["params"]["bucket"], keys)

    @task_group(group_id=GROUP)
    def recording(audio_path: Any, s3_key: Any, marker: Any) -> None:
        """Transcribe one recording with PII redaction (or resume it), archive the redacted audio, purge."""
        transcribe = AssemblyAITranscribeOperator(
            task_id="transcribe",
            audio_path=audio_path,
            submission_marker=marker,
            redact_pii=True,
            redact_pii_audio=True,
            redact_pii_policies=["person_name", "phone_number", "email_address", "location_address"],
            redact_pii_sub="entity_name",
            redact_pii_audio_quality="{{ params.audio_format }}",
            redact_pii_audio_options={"return_redacted_no_speech_audio": True},
            pool=POOL,
        )
        wait = AssemblyAIRedactedAudioSensor(
            task_id="wait",
            transcript_id=transcribe.output,
            deferrable=True,
            poke_interval=POLL_SECONDS,
            timeout=6 * 60 * 60,
            retries=2,
            retry_delay=timedelta(seconds=POLL_SECONDS),
            do_xcom_push=False,  # nothing reads it, so the triggerer ends the task itself
        )
        archive = AssemblyAIRedactedAudioToObjectStorageOperator(
            task_id="archive",
            transcript_id=transcribe.output,
            s3_bucket="{{ params.bucket }}",
            s3_key=s3_key,
            pool=POOL,
            retries=2,
            retry_delay=timedelta(seconds=POLL_SECONDS),
        )
        delete = AssemblyAIDeleteTranscriptOperator(
            task_id="delete", transcript_id=transcribe.output, archive_uri=archive.output
        )
        chain(transcribe, wait, archive, delete)

    @task(trigger_rule="all_done")
    def summarize() -> dict[str, Any]:
        """Report archived, skipped, failed and bytes; fail the run when anything failed."""
        return batch.summarize(get_current_context(), GROUP)

    # A missing bucket or write permission fails here, before any upload or paid transcription.
    destination = AssemblyAICheckArchiveDestinationOperator(
        task_id="check_archive_destination", s3_bucket="{{ params.bucket }}", s3_key="{{ params.key_prefix }}"
    )
    planned, unpurged = plan(), find_unpurged()
    # Transcripts archived by an earlier run whose delete failed; each purge checks its archive first.
    purge = AssemblyAIDeleteTranscriptOperator.partial(task_id="purge").expand_kwargs(unpurged)
    recordings = recording.expand_kwargs(planned)
    chain(check_pool(), destination, planned, [recordings, unpurged], report := summarize())
    chain(unpurged, purge, report)
