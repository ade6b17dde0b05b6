"""Redact and archive every recording under a source location, once each, within AssemblyAI's rate limit.

``check_pool`` -> ``plan`` -> per recording (a mapped task group): ``transcribe`` -> ``wait``
(deferrable) -> ``archive`` (to S3) -> ``delete`` (at AssemblyAI); ``purge_skipped`` beside them;
``summarize`` at the end, whatever happened before it.

- **Source:** ``source`` is a local directory or an object-storage prefix (``s3://bucket/prefix/``,
  through ``source_conn_id``; S3 sources need ``s3fs``). Files with an audio suffix are recordings.
- **Archive key:** ``key_prefix`` + the recording's path + ``.redacted.`` + ``audio_format``, so it is
  known before anything is submitted. A recording whose archive exists is skipped: no second submission,
  no second bill. A skipped recording whose transcript was never purged (its delete failed) is purged
  now, from the id in the archive's ``assemblyai-transcript-id`` metadata.
- **Only source paths travel in XCom**; each ``transcribe`` task uploads its recording itself, so no
  pre-signed URL is ever stored.
- **Pool:** ``transcribe`` and ``archive`` run in the pool ``assemblyai`` (create it first:
  ``airflow pools set assemblyai 8 "AssemblyAI submissions and transfers"``); its size caps concurrent
  uploads, submissions and transfers. ``check_pool`` fails the run when the pool is missing, instead of
  leaving the tasks queued forever.
- **One run at a time** (``max_active_runs=1``), so overlapping runs never submit a recording twice.
- **One bad recording fails only its own tasks.** ``summarize`` reports archived, skipped, failed and
  bytes, and fails the run when a recording failed (run it again: archived recordings are skipped).
- **At most ``[core] max_map_length`` recordings** (1,024 by default) to submit per run; more are refused
  before anything is sent: split the source into smaller prefixes.
- ``wait`` and ``archive`` retry twice: a passing fault, or Airflow's race that can fail a deferred task
  resumed within seconds, costs one retry and no new submission.

``ASSEMBLYAI_EXAMPLE_POLL_SECONDS`` sets the poll interval (default 30 s).
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, chain, get_current_context, task, task_group

from airflow_assemblyai.operators.delete import AssemblyAIDeleteTranscriptOperator
from airflow_assemblyai.operators.transcribe import AssemblyAITranscribeOperator
from airflow_assemblyai.sensors.redacted_audio import AssemblyAIRedactedAudioSensor
from airflow_assemblyai.transfers.redacted_audio_to_s3 import AssemblyAIRedactedAudioToS3Operator

DAG_ID = "example_assemblyai_redacted_audio_batch"
#: The pool that caps concurrent uploads, submissions and transfers; the README shows how to create it.
POOL = "assemblyai"
AUDIO_SUFFIXES = frozenset(
    {".aac", ".amr", ".flac", ".m4a", ".mov", ".mp3", ".mp4", ".ogg", ".opus", ".wav", ".webm", ".wma"}
)
#: The ``audio_url`` AssemblyAI shows for a transcript whose data was deleted.
DELETED_AUDIO_URL = "http://deleted_by_user"
GROUP = "recording"
RECORDING_TASKS = ("transcribe", "wait", "archive", "delete")
log = logging.getLogger(__name__)
POLL_SECONDS = float(os.environ.get("ASSEMBLYAI_EXAMPLE_POLL_SECONDS", "30"))


def _archive_key(key_prefix: str, source_path: str, audio_format: str) -> str:
    """Return the archive key of a recording: derived from its path alone, never from a transcript id."""
    return f"{key_prefix}{source_path.lstrip('/')}.redacted.{audio_format}"


def _s3_hook() -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id="aws_default")


def _pool_exists(name: str) -> tuple[bool | None, str]:
    """Return whether the pool exists (None: this task may not read pools) and who answered.

    The metadata database answers where the task may read it (``airflow dags test``); a task run by
    an Airflow 3 worker may not, so the API server is asked instead (``[api] base_url``).
    """
    try:
        from airflow.models.pool import Pool

        return Pool.get_pool(name) is not None, "the metadata database"
    except (RuntimeError, AttributeError):  # the Task SDK blocks direct database access
        pass
    import httpx
    from airflow.sdk import conf

    base_url = conf.get("api", "base_url", fallback=None)
    if not base_url:
        return None, "nobody: [api] base_url is not set"
    try:
        answer = httpx.get(f"{base_url.rstrip('/')}/api/v2/pools/{name}", timeout=10)
    except httpx.HTTPError as exc:
        return None, f"nobody: the API server could not be reached ({type(exc).__name__})"
    found = {200: True, 404: False}.get(answer.status_code)
    return found, f"the API server (HTTP {answer.status_code})"


def _summarize(context: Any, group: str) -> dict[str, Any]:
    """Report archived, skipped, failed and bytes from the task states; raise when anything failed."""
    from airflow.sdk.exceptions import AirflowFailException

    ti, dag_run = context["ti"], context["dag_run"]
    todo = ti.xcom_pull(task_ids="plan")
    if todo is None:
        raise AirflowFailException("Nothing was submitted: check_pool or plan failed (see their logs).")
    skipped = ti.xcom_pull(task_ids="plan", key="skipped") or []
    purged = ti.xcom_pull(task_ids="purge_skipped")
    task_ids = [f"{group}.{task_id}" for task_id in RECORDING_TASKS]
    states = ti.get_task_states(dag_id=dag_run.dag_id, task_ids=task_ids, run_ids=[dag_run.run_id])
    states = states.get(dag_run.run_id, {})
    bucket = context["params"]["bucket"]
    s3 = _s3_hook()
    archived, failed, not_purged, size = [], [], [], 0
    for index, item in enumerate(todo):
        source = str(item["audio_path"])
        state = {t: states.get(f"{group}.{t}_{index}") for t in RECORDING_TASKS}
        if state["archive"] == "success":
            archived.append(source)
            size += int((s3.head_object(item["s3_key"], bucket) or {}).get("ContentLength", 0))
            if state["delete"] != "success":
                not_purged.append(source)
        else:
            failed.append(f"{source} ({', '.join(f'{t} {s}' for t, s in state.items() if s != 'success')})")
    report = {
        "recordings": len(todo) + len(skipped),
        "archived": len(archived),
        "skipped": len(skipped),
        "failed": len(failed),
        "bytes": size,
        "purged_skipped": purged,
        "failed_recordings": failed,
        "not_purged": not_purged,
    }
    ti.xcom_push(key="summary", value=report)
    log.info(
        "Batch: %d archived (%d bytes), %d skipped (archived before; %s purged now), %d failed",
        report["archived"],
        size,
        report["skipped"],
        "unknown" if purged is None else purged,
        report["failed"],
    )
    for line in failed:
        log.error("Failed: %s", line)
    for line in not_purged:
        log.error("Archived, but its transcript is not deleted yet (the next run purges it): %s", line)
    if failed or not_purged or (skipped and purged is None):
        raise AirflowFailException(
            f"{len(failed)} of {len(todo)} recordings failed and {len(not_purged)} archived ones are not "
            "purged yet; run the DAG again to retry them (archived recordings are skipped)."
        )
    return report


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
    },
    doc_md=__doc__,
) as dag:

    @task
    def check_pool() -> None:
        """Fail the run, naming the fix, when the pool the recording tasks need does not exist."""
        from airflow.sdk.exceptions import AirflowFailException

        found, source = _pool_exists(POOL)
        if found is None:
            log.warning("Could not check that the pool %r exists; asked %s. Make sure it does.", POOL, source)
        elif found:
            log.info("The pool %r exists (asked %s).", POOL, source)
        else:
            raise AirflowFailException(
                f"The pool {POOL!r} does not exist, so the recording tasks would wait forever. Create it "
                f"(its size caps concurrent uploads and transfers): airflow pools set {POOL} 8 "
                '"AssemblyAI submissions and transfers"'
            )

    @task
    def plan() -> list[dict[str, Any]]:
        """List the recordings; return those to submit, and push those archived before as ``skipped``."""
        from airflow.sdk import ObjectStoragePath, conf
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_assemblyai.transfers.redacted_audio_to_s3 import META_TRANSCRIPT_ID

        context = get_current_context()
        params = context["params"]
        source = str(params["source"]).strip()
        if "://" not in source and not source.startswith("/"):
            raise AirflowFailException(
                f"The source param {source!r} is neither an absolute local directory nor a URL: pass "
                "/path/to/recordings or s3://bucket/prefix/."
            )
        if "://" in source and not source.startswith("file://"):
            root = ObjectStoragePath(source, conn_id=params["source_conn_id"] or None)
        else:
            root = ObjectStoragePath(f"file://{source.removeprefix('file://')}")
        if not root.is_dir():
            raise AirflowFailException(f"The source {source!r} is not a directory or prefix that exists.")
        recordings = sorted(
            (p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()),
            key=lambda p: p.path,
        )
        bucket, prefix, fmt = params["bucket"], params["key_prefix"], params["audio_format"]
        s3 = _s3_hook()
        existing = set(s3.list_keys(bucket_name=bucket, prefix=prefix + root.path.lstrip("/")))
        todo: list[dict[str, Any]] = []
        skipped: list[dict[str, str]] = []
        for path in recordings:
            key = _archive_key(prefix, path.path, fmt)
            if key in existing:
                metadata = (s3.head_object(key, bucket) or {}).get("Metadata") or {}
                skipped.append(
                    {"source": str(path), "key": key, "transcript_id": metadata.get(META_TRANSCRIPT_ID, "")}
                )
            else:
                todo.append({"audio_path": path, "s3_key": key})
        limit = conf.getint("core", "max_map_length", fallback=1024)
        if len(todo) > limit:
            raise AirflowFailException(
                f"{len(todo):,} recordings under {source} are not archived yet: more than the "
                f"{limit:,} mapped tasks one run may hold ([core] max_map_length). Nothing was "
                "submitted. Split the source into smaller prefixes (one run each), or raise max_map_length."
            )
        log.info("%d recordings: %d to archive, %d archived before", len(recordings), len(todo), len(skipped))
        context["ti"].xcom_push(key="skipped", value=skipped)
        return todo

    @task
    def purge_skipped() -> int:
        """Purge at AssemblyAI the transcripts of skipped recordings never deleted; return how many."""
        from airflow_assemblyai.hooks.assemblyai import AssemblyAIHook

        skipped = get_current_context()["ti"].xcom_pull(task_ids="plan", key="skipped") or []
        hook = AssemblyAIHook()
        purged = 0
        for item in skipped:
            transcript_id = item["transcript_id"]
            if not transcript_id:
                log.warning("The archive %s carries no transcript id; nothing to purge.", item["key"])
                continue
            if hook.get_transcript(transcript_id).get("audio_url") != DELETED_AUDIO_URL:
                hook.delete_transcript(transcript_id)
                purged += 1
                log.info(
                    "Purged transcript %s of %s (archived before, never deleted).",
                    transcript_id,
                    item["source"],
                )
        return purged

    @task_group(group_id=GROUP)
    def recording(audio_path: Any, s3_key: Any) -> None:
        """Transcribe one recording with PII redaction, archive the redacted audio, purge the transcript."""
        transcribe = AssemblyAITranscribeOperator(
            task_id="transcribe",
            audio_path=audio_path,
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
            # Nothing downstream reads the wait's value, so the triggerer ends the task itself.
            do_xcom_push=False,
        )
        archive = AssemblyAIRedactedAudioToS3Operator(
            task_id="archive",
            transcript_id=transcribe.output,
            s3_bucket="{{ params.bucket }}",
            s3_key=s3_key,
            pool=POOL,
            retries=2,
            retry_delay=timedelta(seconds=POLL_SECONDS),
        )
        delete = AssemblyAIDeleteTranscriptOperator(task_id="delete", transcript_id=transcribe.output)
        chain(transcribe, wait, archive, delete)

    @task(trigger_rule="all_done")
    def summarize() -> dict[str, Any]:
        """Report archived, skipped, failed and bytes; fail the run when anything failed."""
        return _summarize(get_current_context(), GROUP)

    planned = plan()
    chain(check_pool(), planned, [recording.expand_kwargs(planned), purge_skipped()], summarize())
